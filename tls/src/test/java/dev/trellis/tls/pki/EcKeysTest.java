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

    @Test
    void theJdkKeyCheckAgreesWithTheParsedOne() throws Exception {
        java.util.List<java.security.PublicKey> keys = new java.util.ArrayList<>();
        keys.add(EcKeys.generateP256().getPublic());
        java.security.KeyPairGenerator p384 = java.security.KeyPairGenerator.getInstance("EC");
        p384.initialize(new java.security.spec.ECGenParameterSpec("secp384r1"));
        keys.add(p384.generateKeyPair().getPublic());
        java.security.KeyPairGenerator rsa = java.security.KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        keys.add(rsa.generateKeyPair().getPublic());
        for (java.security.PublicKey key : keys) {
            org.assertj.core.api.Assertions.assertThat(EcKeys.isP256(key)).as(key.getAlgorithm())
                    .isEqualTo(EcKeys.isP256(org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(key.getEncoded())));
        }
        org.assertj.core.api.Assertions.assertThat(EcKeys.isP256(keys.getFirst())).isTrue();
    }
}
