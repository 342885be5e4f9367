import com.sun.net.httpserver.HttpServer;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;

/**
 * The end-to-end tests' application, run by the JDK's source launcher in a simulated pod:
 * {@code serve} answers "hello from $HOSTNAME [to CALLER]" on $PORT (the caller's mesh identity, as
 * the inbound proxy tells it) ({@code /ready} for probes, {@code
 * /call?url=U} fetches U and answers what it got); {@code call U N} fetches U N times and
 * exits 0 when every answer was 200 — a Job's work. With $GRPC_PORT set, {@code serve} also
 * answers the unary gRPC method {@code e2e.Hello/Say} there (raw bytes, no protobuf) with the
 * same greeting; {@code grpc-call HOST:PORT N} calls it N times.
 */
public class App {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    };
    private static final MethodDescriptor<byte[], byte[]> SAY = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("e2e.Hello/Say").setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

    public static void main(String[] args) throws Exception {
        if (args.length >= 3 && args[0].equals("grpc-call")) {
            ManagedChannel channel = NettyChannelBuilder.forTarget(args[1]).usePlaintext().build();
            for (int i = 0; i < Integer.parseInt(args[2]); i++) {
                byte[] answer = ClientCalls.blockingUnaryCall(channel, SAY, CallOptions.DEFAULT.withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS),
                        "hi".getBytes(StandardCharsets.UTF_8));
                System.out.println("grpc " + i + ": " + new String(answer, StandardCharsets.UTF_8));
            }
            channel.shutdownNow();
            System.exit(0);
        }
        if (args.length >= 3 && args[0].equals("call")) {
            int failures = 0;
            for (int i = 0; i < Integer.parseInt(args[2]); i++) {
                HttpResponse<String> answer = fetch(args[1]);
                System.out.println("call " + i + ": " + answer.statusCode() + " " + answer.body().strip());
                failures += answer.statusCode() == 200 ? 0 : 1;
            }
            System.exit(failures == 0 ? 0 : 1);
        }
        String name = System.getenv("HOSTNAME");
        HttpServer server = HttpServer.create(new InetSocketAddress(Integer.parseInt(System.getenv("PORT"))), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> {
            String query = exchange.getRequestURI().getRawQuery();
            int status = 200;
            // The inbound proxy names the caller's mesh identity in trellis-client-id.
            String client = exchange.getRequestHeaders().getFirst("trellis-client-id");
            String body = "hello from " + name + (client == null ? "" : " to " + client) + "\n";
            if (exchange.getRequestURI().getPath().equals("/call") && query != null && query.startsWith("url=")) {
                try {
                    HttpResponse<String> answer = fetch(URLDecoder.decode(query.substring(4), StandardCharsets.UTF_8));
                    status = answer.statusCode();
                    body = answer.body();
                } catch (Exception e) {
                    status = 502;
                    body = "call failed: " + e + "\n";
                }
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
        server.start();
        System.out.println("serving on " + server.getAddress());
        if (System.getenv("GRPC_PORT") != null) {
            Metadata.Key<String> clientId = Metadata.Key.of("trellis-client-id", Metadata.ASCII_STRING_MARSHALLER);
            ServerCallHandler<byte[], byte[]> say = (call, headers) -> {
                String client = headers.get(clientId);
                call.request(1);
                return new ServerCall.Listener<>() {
                    @Override
                    public void onMessage(byte[] request) {
                        call.sendHeaders(new Metadata());
                        call.sendMessage(("grpc hello from " + name + (client == null ? "" : " to " + client)).getBytes(StandardCharsets.UTF_8));
                        call.close(Status.OK, new Metadata());
                    }
                };
            };
            Server grpc = NettyServerBuilder.forPort(Integer.parseInt(System.getenv("GRPC_PORT")))
                    .addService(ServerServiceDefinition.builder("e2e.Hello").addMethod(SAY, say).build()).build().start();
            System.out.println("gRPC on " + grpc.getPort());
        }
    }

    private static HttpResponse<String> fetch(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
