package dev.trellis.tls.context;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager that offers whatever credentials the store holds at handshake time. The
 * alias names the generation ({@code trellis-<n>}), so any cache keyed by alias (such as
 * Netty's OpenSSL key-material cache) sees a rotation as a new key.
 */
final class CurrentCredentialsKeyManager extends X509ExtendedKeyManager {

    private static final String ALIAS_PREFIX = "trellis-";

    private final CredentialsStore store;

    CurrentCredentialsKeyManager(CredentialsStore store) {
        this.store = store;
    }

    private String currentAlias() {
        CredentialsStore.Installed installed = store.installed();
        return installed == null ? null : ALIAS_PREFIX + installed.generation();
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return offers(keyType) ? currentAlias() : null;
    }

    @Override
    public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
        return chooseClientAlias(keyTypes, issuers, null);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return offers(keyType) ? currentAlias() : null;
    }

    @Override
    public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
        if (keyTypes == null) {
            return currentAlias();
        }
        for (String keyType : keyTypes) {
            if (offers(keyType)) {
                return currentAlias();
            }
        }
        return null;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        String alias = offers(keyType) ? currentAlias() : null;
        return alias == null ? null : new String[] {alias};
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return getServerAliases(keyType, issuers);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        return credentials(alias).map(c -> c.chain().toArray(X509Certificate[]::new)).orElse(null);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return credentials(alias).map(Credentials::key).orElse(null);
    }

    private java.util.Optional<Credentials> credentials(String alias) {
        if (alias == null || !alias.startsWith(ALIAS_PREFIX)) {
            return java.util.Optional.empty();
        }
        try {
            return store.generation(Long.parseLong(alias.substring(ALIAS_PREFIX.length())));
        } catch (NumberFormatException e) {
            return java.util.Optional.empty();
        }
    }

    /** Mesh keys are EC; key types arrive as "EC", "EC_EC", "ECDHE_ECDSA" and the like. */
    private static boolean offers(String keyType) {
        return keyType == null || keyType.startsWith("EC");
    }
}
