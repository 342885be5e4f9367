package dev.trellis.wire.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code trellis.destination.v1.Route}, the parts the proxy uses: its name, kind and namespace,
 * its condition ({@code RequestMatch}), whether it may be retried, its timeouts, its weighted
 * backends, filters and retry policy. Response classes are not read.
 */
public record Route(String name, String kind, String namespace, Match match, boolean retryable, Optional<Duration> timeout,
                    List<Backend> backends, Filters filters, Optional<Duration> backendTimeout, Optional<Retry> retry)
        implements ProtoWriter.Writable {

    public Route {
        requireNonNull(name, "name");
        requireNonNull(kind, "kind");
        requireNonNull(namespace, "namespace");
        requireNonNull(match, "match");
        requireNonNull(timeout, "timeout");
        backends = List.copyOf(backends);
        requireNonNull(filters, "filters");
        requireNonNull(backendTimeout, "backendTimeout");
        requireNonNull(retry, "retry");
    }

    /** A route with only a condition, a retry flag and a timeout: what Trellis's own route rules say. */
    public static Route simple(String name, String path, String pathRegex, String method, boolean retryable, Optional<Duration> timeout) {
        return new Route(name, "", "", new Match(path, pathRegex, "", method, List.of(), List.of()), retryable, timeout, List.of(),
                Filters.NONE, Optional.empty(), Optional.empty());
    }

    /** {@code RequestMatch}: at most one of path, pathRegex and pathPrefix is set; empty strings mean "any". */
    public record Match(String path, String pathRegex, String pathPrefix, String method, List<ValueMatch> headers, List<ValueMatch> queryParams)
            implements ProtoWriter.Writable {
        public Match {
            requireNonNull(path, "path");
            requireNonNull(pathRegex, "pathRegex");
            requireNonNull(pathPrefix, "pathPrefix");
            requireNonNull(method, "method");
            headers = List.copyOf(headers);
            queryParams = List.copyOf(queryParams);
        }

        static Match read(ProtoReader reader) throws ProtoException {
            String path = "";
            String regex = "";
            String prefix = "";
            String method = "";
            List<ValueMatch> headers = new ArrayList<>();
            List<ValueMatch> query = new ArrayList<>();
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> path = reader.readString();
                    case 2 -> regex = reader.readString();
                    case 3 -> method = reader.readString();
                    case 4 -> prefix = reader.readString();
                    case 5 -> headers.add(ValueMatch.read(reader.readMessage()));
                    case 6 -> query.add(ValueMatch.read(reader.readMessage()));
                    default -> reader.skip();
                }
            }
            return new Match(path, regex, prefix, method, headers, query);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, path).writeString(2, pathRegex).writeString(3, method).writeString(4, pathPrefix)
                    .writeMessages(5, headers).writeMessages(6, queryParams);
        }
    }

    /** {@code ValueMatch}: a header or query parameter equal to {@code value}, or matching it as a regex. */
    public record ValueMatch(String name, boolean regex, String value) implements ProtoWriter.Writable {
        static ValueMatch read(ProtoReader reader) throws ProtoException {
            String name = "";
            boolean regex = false;
            String value = "";
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> name = reader.readString();
                    case 2 -> value = reader.readString();
                    case 3 -> {
                        value = reader.readString();
                        regex = true;
                    }
                    default -> reader.skip();
                }
            }
            return new ValueMatch(name, regex, value);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, name).writeOneofString(regex ? 3 : 2, value);
        }
    }

    /** {@code WeightedBackend}: an empty authority is a backend that cannot be resolved. */
    public record Backend(String authority, int weight) implements ProtoWriter.Writable {
        public static Backend read(ProtoReader reader) throws ProtoException {
            String authority = "";
            int weight = 0;
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> authority = reader.readString();
                    case 2 -> weight = reader.readUInt32();
                    default -> reader.skip();
                }
            }
            return new Backend(authority, weight);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, authority).writeUInt32(2, weight);
        }
    }

    /** {@code Header}. */
    public record Header(String name, String value) implements ProtoWriter.Writable {
        static Header read(ProtoReader reader) throws ProtoException {
            String name = "";
            String value = "";
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> name = reader.readString();
                    case 2 -> value = reader.readString();
                    default -> reader.skip();
                }
            }
            return new Header(name, value);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, name).writeString(2, value);
        }
    }

    /** {@code HeaderEdit}: set (replace), add (append), remove. */
    public record HeaderEdit(List<Header> set, List<Header> add, List<String> remove) implements ProtoWriter.Writable {
        public static final HeaderEdit NONE = new HeaderEdit(List.of(), List.of(), List.of());

        public HeaderEdit {
            set = List.copyOf(set);
            add = List.copyOf(add);
            remove = List.copyOf(remove);
        }

        public boolean isEmpty() {
            return set.isEmpty() && add.isEmpty() && remove.isEmpty();
        }

        static HeaderEdit read(ProtoReader reader) throws ProtoException {
            List<Header> set = new ArrayList<>();
            List<Header> add = new ArrayList<>();
            List<String> remove = new ArrayList<>();
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> set.add(Header.read(reader.readMessage()));
                    case 2 -> add.add(Header.read(reader.readMessage()));
                    case 3 -> remove.add(reader.readString());
                    default -> reader.skip();
                }
            }
            return new HeaderEdit(set, add, remove);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessages(1, set).writeMessages(2, add).writeStrings(3, remove);
        }
    }

    /** {@code Redirect}: empty parts keep the request's; {@code path} when {@code hasPath}, replacing the prefix matched when {@code prefixMatch}. */
    public record Redirect(String scheme, String hostname, int port, boolean hasPath, String path, boolean prefixMatch, int status)
            implements ProtoWriter.Writable {
        static Redirect read(ProtoReader reader) throws ProtoException {
            String scheme = "";
            String hostname = "";
            int port = 0;
            String path = "";
            boolean prefix = false;
            boolean hasPath = false;
            int status = 302;
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> scheme = reader.readString();
                    case 2 -> hostname = reader.readString();
                    case 3 -> port = reader.readUInt32();
                    case 4 -> path = reader.readString();
                    case 5 -> prefix = reader.readBool();
                    case 6 -> hasPath = reader.readBool();
                    case 7 -> status = reader.readUInt32();
                    default -> reader.skip();
                }
            }
            return new Redirect(scheme, hostname, port, hasPath, path, prefix, status);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, scheme).writeString(2, hostname).writeUInt32(3, port).writeString(4, path).writeBool(5, prefixMatch)
                    .writeBool(6, hasPath).writeUInt32(7, status);
        }
    }

    /** {@code Rewrite}: the Host and the path the backend sees. */
    public record Rewrite(String hostname, boolean hasPath, String path, boolean prefixMatch) implements ProtoWriter.Writable {
        static Rewrite read(ProtoReader reader) throws ProtoException {
            String hostname = "";
            String path = "";
            boolean prefix = false;
            boolean hasPath = false;
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> hostname = reader.readString();
                    case 2 -> path = reader.readString();
                    case 3 -> prefix = reader.readBool();
                    case 4 -> hasPath = reader.readBool();
                    default -> reader.skip();
                }
            }
            return new Rewrite(hostname, hasPath, path, prefix);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, hostname).writeString(2, path).writeBool(3, prefixMatch).writeBool(4, hasPath);
        }
    }

    /** {@code Mirror}: a copy of {@code percent} % of requests to {@code authority}. */
    public record Mirror(String authority, int percent) implements ProtoWriter.Writable {
        static Mirror read(ProtoReader reader) throws ProtoException {
            String authority = "";
            int percent = 0;
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> authority = reader.readString();
                    case 2 -> percent = reader.readUInt32();
                    default -> reader.skip();
                }
            }
            return new Mirror(authority, percent);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, authority).writeUInt32(2, percent);
        }
    }

    /** {@code RequestFilters}. */
    public record Filters(HeaderEdit requestHeaders, HeaderEdit responseHeaders, Optional<Redirect> redirect, Optional<Rewrite> rewrite,
                          Optional<Mirror> mirror) implements ProtoWriter.Writable {
        public static final Filters NONE = new Filters(HeaderEdit.NONE, HeaderEdit.NONE, Optional.empty(), Optional.empty(), Optional.empty());

        static Filters read(ProtoReader reader) throws ProtoException {
            HeaderEdit request = HeaderEdit.NONE;
            HeaderEdit response = HeaderEdit.NONE;
            Optional<Redirect> redirect = Optional.empty();
            Optional<Rewrite> rewrite = Optional.empty();
            Optional<Mirror> mirror = Optional.empty();
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> request = HeaderEdit.read(reader.readMessage());
                    case 2 -> response = HeaderEdit.read(reader.readMessage());
                    case 3 -> redirect = Optional.of(Redirect.read(reader.readMessage()));
                    case 4 -> rewrite = Optional.of(Rewrite.read(reader.readMessage()));
                    case 5 -> mirror = Optional.of(Mirror.read(reader.readMessage()));
                    default -> reader.skip();
                }
            }
            return new Filters(request, response, redirect, rewrite, mirror);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(1, requestHeaders.isEmpty() ? null : requestHeaders)
                    .writeMessage(2, responseHeaders.isEmpty() ? null : responseHeaders)
                    .writeMessage(3, redirect.orElse(null)).writeMessage(4, rewrite.orElse(null)).writeMessage(5, mirror.orElse(null));
        }
    }

    /** {@code RetryPolicy}: tries after the first, on these statuses or gRPC codes, each within {@code perTry}. */
    public record Retry(int attempts, List<Integer> httpStatuses, List<Integer> grpcCodes, Optional<Duration> perTry) implements ProtoWriter.Writable {
        public Retry {
            httpStatuses = List.copyOf(httpStatuses);
            grpcCodes = List.copyOf(grpcCodes);
            requireNonNull(perTry, "perTry");
        }

        static Retry read(ProtoReader reader) throws ProtoException {
            int attempts = 0;
            List<Integer> statuses = new ArrayList<>();
            List<Integer> codes = new ArrayList<>();
            Optional<Duration> perTry = Optional.empty();
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> attempts = reader.readUInt32();
                    case 2 -> reader.readRepeatedUInt32(statuses::add);
                    case 3 -> reader.readRepeatedUInt32(codes::add);
                    case 4 -> perTry = Optional.of(reader.readDuration());
                    default -> reader.skip();
                }
            }
            return new Retry(attempts, statuses, codes, perTry);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeUInt32(1, attempts).writePackedUInt32(2, httpStatuses).writePackedUInt32(3, grpcCodes).writeDuration(4, perTry.orElse(null));
        }
    }

    public static Route read(ProtoReader reader) throws ProtoException {
        String name = "";
        String kind = "";
        String namespace = "";
        Match match = new Match("", "", "", "", List.of(), List.of());
        boolean retryable = false;
        Optional<Duration> timeout = Optional.empty();
        List<Backend> backends = new ArrayList<>();
        Filters filters = Filters.NONE;
        Optional<Duration> backendTimeout = Optional.empty();
        Optional<Retry> retry = Optional.empty();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> name = reader.readString();
                case 2 -> match = Match.read(reader.readMessage());
                case 3 -> retryable = reader.readBool();
                case 4 -> timeout = Optional.of(reader.readDuration());
                case 6 -> kind = reader.readString();
                case 7 -> namespace = reader.readString();
                case 8 -> backends.add(Backend.read(reader.readMessage()));
                case 9 -> filters = Filters.read(reader.readMessage());
                case 10 -> backendTimeout = Optional.of(reader.readDuration());
                case 11 -> retry = Optional.of(Retry.read(reader.readMessage()));
                default -> reader.skip();
            }
        }
        return new Route(name, kind, namespace, match, retryable, timeout, backends, filters, backendTimeout, retry);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, name)
                .writeMessage(2, match)
                .writeBool(3, retryable)
                .writeDuration(4, timeout.orElse(null))
                .writeString(6, kind)
                .writeString(7, namespace)
                .writeMessages(8, backends)
                .writeMessage(9, filters.equals(Filters.NONE) ? null : filters)
                .writeDuration(10, backendTimeout.orElse(null))
                .writeMessage(11, retry.orElse(null));
    }
}
