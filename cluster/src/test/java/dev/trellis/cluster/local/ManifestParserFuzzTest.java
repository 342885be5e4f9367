package dev.trellis.cluster.local;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.manifest.ManifestParser;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.List;

/**
 * The local source's manifest parser and the policy resources' validating parser, on any
 * text a user may leave in the state directory: a file either parses into objects that a
 * snapshot takes (invalid policy resources becoming named problems) or is refused with a
 * {@link ManifestParser.ManifestException} naming the file — nothing else is thrown, so a bad
 * file never takes the last good state down.
 */
class ManifestParserFuzzTest {

    private final ManifestParser parser = new ManifestParser();

    @FuzzTest(maxDuration = "20s")
    void parsesOrNamesTheProblem(byte[] input) {
        String text = new String(input, java.nio.charset.StandardCharsets.UTF_8);
        List<HasMetadata> objects;
        try {
            objects = parser.parse("state/fuzz.yaml", text).stream().map(LocalDirectorySource::inDefaultNamespace).toList();
        } catch (ManifestParser.ManifestException refused) {
            if (!refused.getMessage().startsWith("state/fuzz.yaml")) {
                throw new AssertionError("a refusal must name the file: " + refused.getMessage());
            }
            return;
        }
        ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
        objects.forEach(builder::add);
        DerivedEndpointSlices.of(objects).forEach(builder::add);
        builder.build(1);
    }
}
