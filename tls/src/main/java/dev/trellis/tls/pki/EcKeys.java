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
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.jce.ECNamedCurveTable;
import org.bouncycastle.jce.spec.ECNamedCurveParameterSpec;

/** ECDSA P-256 (secp256r1), the only key type of the mesh. */
public final class EcKeys {

    /** The signature algorithm of every mesh certificate and CSR. */
    public static final String SIGNATURE_ALGORITHM = "SHA256withECDSA";

    private static final ASN1ObjectIdentifier P256 = SECObjectIdentifiers.secp256r1;
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
        return info.getAlgorithm().getAlgorithm().equals(X9ObjectIdentifiers.id_ecPublicKey)
                && P256.equals(info.getAlgorithm().getParameters());
    }

    /** True when the key is an EC key on P-256. */
    public static boolean isP256(PublicKey key) {
        return key instanceof ECPublicKey && isP256(SubjectPublicKeyInfo.getInstance(key.getEncoded()));
    }

    /** The public half of an EC private key. */
    public static PublicKey publicKeyOf(PrivateKey key) {
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
}
