package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import org.junit.jupiter.api.Test;

class EcKeysTest {

    @Test
    void aKeyMatchesItsOwnPublicKeyAndNoOther() {
        KeyPair mine = EcKeys.generateP256();
        KeyPair other = EcKeys.generateP256();
        assertThat(EcKeys.matches(mine.getPrivate(), mine.getPublic())).isTrue();
        assertThat(EcKeys.matches(mine.getPrivate(), other.getPublic())).isFalse();
        assertThat(EcKeys.matches(other.getPrivate(), mine.getPublic())).isFalse();
    }

    @Test
    void aKeyOnAnotherCurveMatchesNothing() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp384r1"));
        KeyPair p384 = generator.generateKeyPair();
        assertThat(EcKeys.matches(p384.getPrivate(), p384.getPublic())).isFalse();
    }

    @Test
    void theDerivedPublicKeyIsTheGeneratedOne() {
        KeyPair keys = EcKeys.generateP256();
        assertThat(EcKeys.publicKeyOf(keys.getPrivate())).isEqualTo(keys.getPublic());
    }
}
