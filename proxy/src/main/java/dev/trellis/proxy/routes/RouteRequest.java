package dev.trellis.proxy.routes;

import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;

/** What a route matches on, from an HTTP/1 head or HTTP/2 headers: no copy is made. */
public interface RouteRequest {

    String method();

    /** The request target's path and query, as sent. */
    String pathAndQuery();

    /** The values of a header, by its lower-case name. */
    List<? extends CharSequence> header(String lowerCaseName);

    static RouteRequest of(HttpRequest head) {
        return new RouteRequest() {
            @Override
            public String method() {
                return head.method().name();
            }

            @Override
            public String pathAndQuery() {
                return head.uri();
            }

            @Override
            public List<? extends CharSequence> header(String name) {
                return head.headers().getAll(name);
            }
        };
    }

    static RouteRequest of(Http2Headers headers) {
        return new RouteRequest() {
            @Override
            public String method() {
                return String.valueOf(headers.method());
            }

            @Override
            public String pathAndQuery() {
                return String.valueOf(headers.path());
            }

            @Override
            public List<? extends CharSequence> header(String name) {
                return headers.getAll(name);
            }
        };
    }

    /** A request of only a method and a path. */
    static RouteRequest of(String method, String pathAndQuery) {
        return of(method, pathAndQuery, java.util.Map.of());
    }

    /** A request of a method, a path and one value per header (lower-case names). */
    static RouteRequest of(String method, String pathAndQuery, java.util.Map<String, String> headers) {
        return new RouteRequest() {
            @Override
            public String method() {
                return method;
            }

            @Override
            public String pathAndQuery() {
                return pathAndQuery;
            }

            @Override
            public List<? extends CharSequence> header(String name) {
                String value = headers.get(name);
                return value == null ? List.of() : List.of(value);
            }
        };
    }
}
