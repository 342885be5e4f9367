package dev.trellis.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * Where a connection redirected by iptables ({@code REDIRECT}) was originally going:
 * {@code getsockopt(fd, SOL_IP, SO_ORIGINAL_DST)} (or {@code SOL_IPV6, IP6T_SO_ORIGINAL_DST})
 * on the accepted socket, called through Java's FFM API — no JNI, no C build. Needs the
 * epoll transport (for the file descriptor) and {@code --enable-native-access}.
 */
public final class OriginalDestination {

    private static final int SOL_IP = 0;
    private static final int SOL_IPV6 = 41;
    private static final int SO_ORIGINAL_DST = 80;
    private static final int SOCKADDR_IN_SIZE = 16;
    private static final int SOCKADDR_IN6_SIZE = 28;

    private static final MethodHandle GETSOCKOPT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("getsockopt").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    private OriginalDestination() {}

    /**
     * The original destination of an accepted connection, or empty when it was not redirected
     * (the kernel answers ENOENT) or the channel is not an epoll socket.
     */
    public static Optional<InetSocketAddress> of(Channel channel) {
        if (!(channel instanceof EpollSocketChannel epoll)) {
            return Optional.empty();
        }
        int fd = epoll.fd().intValue();
        boolean v6 = epoll.localAddress() != null && epoll.localAddress().getAddress() instanceof java.net.Inet6Address
                && !isV4Mapped(epoll.localAddress().getAddress());
        return v6 ? query(fd, SOL_IPV6, SOCKADDR_IN6_SIZE) : query(fd, SOL_IP, SOCKADDR_IN_SIZE);
    }

    private static Optional<InetSocketAddress> query(int fd, int level, int size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(size);
            MemorySegment length = arena.allocate(ValueLayout.JAVA_INT);
            length.set(ValueLayout.JAVA_INT, 0, size);
            int result = (int) GETSOCKOPT.invokeExact(fd, level, SO_ORIGINAL_DST, address, length);
            if (result != 0) {
                return Optional.empty();
            }
            byte[] bytes = address.toArray(ValueLayout.JAVA_BYTE);
            int port = ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
            byte[] ip = level == SOL_IP ? java.util.Arrays.copyOfRange(bytes, 4, 8) : java.util.Arrays.copyOfRange(bytes, 8, 24);
            return Optional.of(new InetSocketAddress(InetAddress.getByAddress(ip), port));
        } catch (UnknownHostException e) {
            return Optional.empty();
        } catch (Throwable e) {
            throw new IllegalStateException("proxy: getsockopt(SO_ORIGINAL_DST) failed: " + e, e);
        }
    }

    private static boolean isV4Mapped(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (bytes.length != 16) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff;
    }
}
