package dev.trellis.core.sidecar;

/**
 * The environment variables {@code trellis proxy} reads its settings from, one per flag
 * ({@code --inbound} and {@code TRELLIS_PROXY_INBOUND}, say): the command declares them, the
 * injector sets them, each spelled here once.
 */
public final class ProxyEnvironment {

    /** What every one of them starts with. */
    public static final String PREFIX = "TRELLIS_PROXY_";

    public static final String ADMIN = PREFIX + "ADMIN";
    public static final String APP_HOST = PREFIX + "APP_HOST";
    public static final String CONNECTION_LOG = PREFIX + "CONNECTION_LOG";
    public static final String CONNECT_TIMEOUT = PREFIX + "CONNECT_TIMEOUT";
    public static final String DEBUG = PREFIX + "DEBUG";
    public static final String DEFAULT_INBOUND_POLICY = PREFIX + "DEFAULT_INBOUND_POLICY";
    public static final String DESTINATION_ADDR = PREFIX + "DESTINATION_ADDR";
    public static final String DESTINATION_NAME = PREFIX + "DESTINATION_NAME";
    public static final String DETECT_TIMEOUT = PREFIX + "DETECT_TIMEOUT";
    public static final String FORWARDS = PREFIX + "FORWARDS";
    public static final String HEADER_TIMEOUT = PREFIX + "HEADER_TIMEOUT";
    public static final String IDENTITY = PREFIX + "IDENTITY";
    public static final String IDENTITY_ADDR = PREFIX + "IDENTITY_ADDR";
    public static final String IDENTITY_NAME = PREFIX + "IDENTITY_NAME";
    public static final String INBOUND = PREFIX + "INBOUND";
    public static final String INBOUND_PORTS = PREFIX + "INBOUND_PORTS";
    public static final String MAX_OPENING_PER_SOURCE = PREFIX + "MAX_OPENING_PER_SOURCE";
    public static final String OPAQUE_PORTS = PREFIX + "OPAQUE_PORTS";
    public static final String OUTBOUND = PREFIX + "OUTBOUND";
    public static final String PROBE = PREFIX + "PROBE";
    public static final String REQUEST_TIMEOUT = PREFIX + "REQUEST_TIMEOUT";
    public static final String REQUIRE_IDENTITY_PORTS = PREFIX + "REQUIRE_IDENTITY_PORTS";
    public static final String SHUTDOWN_GRACE = PREFIX + "SHUTDOWN_GRACE";
    public static final String SHUTDOWN_TOKEN_FILE = PREFIX + "SHUTDOWN_TOKEN_FILE";
    public static final String TAP = PREFIX + "TAP";
    public static final String TLS_KEY_EXCHANGE = PREFIX + "TLS_KEY_EXCHANGE";
    public static final String TOKEN_FILE = PREFIX + "TOKEN_FILE";
    public static final String TRUST_ANCHOR = PREFIX + "TRUST_ANCHOR";
    public static final String TRUST_ANCHORS_PEM = PREFIX + "TRUST_ANCHORS_PEM";
    public static final String VIZ_NAME = PREFIX + "VIZ_NAME";
    public static final String WORKLOAD = PREFIX + "WORKLOAD";

    private ProxyEnvironment() {
    }
}
