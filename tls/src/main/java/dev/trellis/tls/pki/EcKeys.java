package dev.trellis.tls.pki;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.jce.ECNamedCurveTable;
import org.bouncycastle.jce.spec.ECNamedCurveParameterSpec;

/** ECDSA P-256 (secp256r1), the only key type of the mesh. */
public final class EcKeys {

    /** The signature algorithm of every mesh certificate and CSR. */
    public static final String SIGNATURE_ALGORITHM = "SHA256withECDSA";

    /** The DER of a P-256 SubjectPublicKeyInfo up to its point: see {@link #isP256(PublicKey)}. */
    private static final byte[] P256_SPKI_PREFIX = java.util.HexFormat.of().parseHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    /** What {@link #matches} signs. */
    private static final byte[] KEY_CHECK = "trellis: does this key belong to this certificate?".getBytes(StandardCharsets.US_ASCII);

    private EcKeys() {}

    /** A fresh P-256 key pair from the platform's strong random source. */
    public static KeyPair generateP256() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("tls: this JDK cannot generate P-256 keys", e);
        }
    }

    /** True when the encoded public key is an EC key on the named curve P-256. */
    static boolean isP256(SubjectPublicKeyInfo info) {
        return WithBouncyCastle.isP256(info);
    }

    /** True when the key is an EC key on P-256. */
    public static boolean isP256(PublicKey key) {
        // The JDK encodes an EC public key as a named curve with an uncompressed point: for P-256 always these 26
        // bytes (SEQUENCE, id-ecPublicKey, secp256r1, BIT STRING of 66) and the 65-byte point. Compared here rather
        // than parsed with Bouncy Castle, which the sidecar would otherwise load at every certificate it installs.
        if (!(key instanceof ECPublicKey)) {
            return false;
        }
        byte[] encoded = key.getEncoded();
        return encoded != null && encoded.length == P256_SPKI_PREFIX.length + 65
                && java.util.Arrays.equals(encoded, 0, P256_SPKI_PREFIX.length, P256_SPKI_PREFIX, 0, P256_SPKI_PREFIX.length)
                && encoded[P256_SPKI_PREFIX.length] == 0x04;
    }

    /** The public half of an EC private key. */
    public static PublicKey publicKeyOf(PrivateKey key) {
        return WithBouncyCastle.publicKeyOf(key);
    }

    /**
     * True when the private key belongs to the public key: a signature made with the one
     * verifies with the other. Done with the JDK's own EC code rather than by deriving the
     * public key ({@link #publicKeyOf}, Bouncy Castle's EC arithmetic): a proxy checks its
     * fresh certificate this way as it starts, and loading and verifying that arithmetic's
     * classes cold cost it ~0.2 s of its start to ready.
     */
    public static boolean matches(PrivateKey privateKey, PublicKey publicKey) {
        if (!(privateKey instanceof ECPrivateKey) || !isP256(publicKey)) {
            return false;
        }
        try {
            Signature signer = Signature.getInstance(SIGNATURE_ALGORITHM);
            signer.initSign(privateKey);
            signer.update(KEY_CHECK);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(SIGNATURE_ALGORITHM);
            verifier.initVerify(publicKey);
            verifier.update(KEY_CHECK);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * What needs Bouncy Castle's ASN.1 and EC arithmetic, for the control plane. Kept apart: the
     * sidecar uses {@link EcKeys} at every start, and verifying code that calls into those
     * classes loads them (five classes of ASN.1, for the check below alone).
     */
    private static final class WithBouncyCastle {

        private WithBouncyCastle() {}

        static boolean isP256(SubjectPublicKeyInfo info) {
            return info.getAlgorithm().getAlgorithm().equals(X9ObjectIdentifiers.id_ecPublicKey)
                    && SECObjectIdentifiers.secp256r1.equals(info.getAlgorithm().getParameters());
        }

        static PublicKey publicKeyOf(PrivateKey key) {
            if (!(key instanceof ECPrivateKey ec)) {
                throw new IllegalArgumentException("tls: expected an EC private key, got " + key.getAlgorithm());
            }
            try {
                ECNamedCurveParameterSpec curve = ECNamedCurveTable.getParameterSpec("secp256r1");
                ECParameterSpec params = ec.getParams();
                if (!params.getCurve().getField().equals(new java.security.spec.ECFieldFp(curve.getCurve().getField().getCharacteristic()))) {
                    throw new IllegalArgumentException("tls: private key is not on P-256");
                }
                org.bouncycastle.math.ec.ECPoint q = curve.getG().multiply(ec.getS()).normalize();
                ECPoint w = new ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger());
                return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, params));
            } catch (GeneralSecurityException e) {
                throw new IllegalArgumentException("tls: cannot derive the public key: " + e.getMessage(), e);
            }
        }
    }
}
