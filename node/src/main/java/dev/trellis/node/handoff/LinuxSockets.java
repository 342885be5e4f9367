package dev.trellis.node.handoff;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Linux calls node mode needs and Java does not offer, through the FFM API (no JNI, no C
 * build): sockets made in another network namespace ({@code setns}), file descriptors sent
 * between processes ({@code SCM_RIGHTS} over a {@code SOCK_SEQPACKET} Unix socket), the
 * peer's credentials ({@code SO_PEERCRED}) and {@code SO_MARK}. x86-64 and aarch64 glibc
 * layouts. Every failure is an {@link IOException} naming the call, its arguments and
 * {@code strerror}. Stateless and thread-safe; {@link #inNamespace} switches only the calling
 * thread, and back.
 */
public final class LinuxSockets {

    static final int AF_UNIX = 1;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int SOCK_STREAM = 1;
    static final int SOCK_SEQPACKET = 5;
    static final int SOCK_NONBLOCK = 0x800;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SO_REUSEADDR = 2;
    static final int SO_ERROR = 4;
    static final int SO_PEERCRED = 17;
    static final int SO_MARK = 36;
    static final int SCM_RIGHTS = 1;
    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 0x80000;
    static final int CLONE_NEWNET = 0x40000000;
    static final int EINPROGRESS = 115;
    static final int EINTR = 4;
    static final int POLLIN = 1;
    static final int POLLOUT = 4;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_TRUNC = 0x20;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;
    /** poll(2) event: writable (a connect in progress has ended). */
    public static final short POLL_OUT = 4;
    /** poll(2) event: readable. */
    public static final short POLL_IN = 1;
    /** poll(2) events that mean the descriptor failed or hung up. */
    public static final short POLL_ERR_HUP = 0x8 | 0x10;
    /** Most descriptors one message carries. */
    public static final int MAX_FDS = 8;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout ADDRESS = ValueLayout.ADDRESS;

    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(INT, INT, INT, INT));
    private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(INT, INT, ADDRESS, INT));
    private static final MethodHandle LISTEN = handle("listen", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle CONNECT = handle("connect", FunctionDescriptor.of(INT, INT, ADDRESS, INT));
    private static final MethodHandle ACCEPT4 = handle("accept4", FunctionDescriptor.of(INT, INT, ADDRESS, ADDRESS, INT));
    private static final MethodHandle SETSOCKOPT = handle("setsockopt", FunctionDescriptor.of(INT, INT, INT, INT, ADDRESS, INT));
    private static final MethodHandle GETSOCKOPT = handle("getsockopt", FunctionDescriptor.of(INT, INT, INT, INT, ADDRESS, ADDRESS));
    private static final MethodHandle POLL = handle("poll", FunctionDescriptor.of(INT, ADDRESS, LONG, INT));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle OPEN = handle("open", FunctionDescriptor.of(INT, ADDRESS, INT));
    private static final MethodHandle SETNS = handle("setns", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle SENDMSG = handle("sendmsg", FunctionDescriptor.of(LONG, INT, ADDRESS, INT));
    private static final MethodHandle RECVMSG = handle("recvmsg", FunctionDescriptor.of(LONG, INT, ADDRESS, INT));
    private static final MethodHandle SHUTDOWN = handle("shutdown", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle EVENTFD = handle("eventfd", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle WRITE = handle("write", FunctionDescriptor.of(LONG, INT, ADDRESS, LONG));
    private static final MethodHandle READ = handle("read", FunctionDescriptor.of(LONG, INT, ADDRESS, LONG));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LINKER.defaultLookup().find("strerror").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, INT));

    private LinuxSockets() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name)),
                descriptor, Linker.Option.captureCallState("errno"));
    }

    /** A message on a Unix socket: its bytes and the descriptors that came with it (owned by the receiver). */
    public record Received(byte[] bytes, List<Integer> fds) {}

    /** The credentials of a Unix socket's peer, as the kernel saw them when it connected. */
    public record PeerCredentials(int pid, int uid, int gid) {}

    /** Opens {@code path} (a network namespace file, say) read-only. */
    public static int open(Path path) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString(), StandardCharsets.UTF_8), O_RDONLY | O_CLOEXEC);
            return check(fd, state, "open(" + path + ")");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Closes {@code fd}, ignoring errors: it is gone either way. */
    public static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(arena.allocate(CALL_STATE), fd);
        } catch (Throwable ignored) {
            // nothing to do
        }
    }

    /** A task that makes sockets: runs with the calling thread in another network namespace. */
    @FunctionalInterface
    public interface InNamespace<T> {
        T run() throws IOException;
    }

    /**
     * Runs {@code task} with the calling thread in the network namespace {@code namespaceFd},
     * then returns the thread to {@code homeFd}. Sockets made inside stay in that namespace
     * for good. A thread that cannot return is a thread in the wrong namespace: that is an
     * {@link IllegalStateException}, and the caller must not use the thread again.
     */
    public static <T> T inNamespace(int namespaceFd, int homeFd, InNamespace<T> task) throws IOException {
        setns(namespaceFd, "the pod's");
        try {
            return task.run();
        } finally {
            try {
                setns(homeFd, "its own");
            } catch (IOException e) {
                throw new IllegalStateException("node agent: a thread could not return to its own network namespace: " + e.getMessage(), e);
            }
        }
    }

    private static void setns(int fd, String which) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) SETNS.invokeExact(state, fd, CLONE_NEWNET), state, "setns(" + which + " network namespace)");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** A new TCP socket of {@code address}'s family, non-blocking, marked with {@code mark} when it is not zero. */
    public static int tcpSocket(InetAddress address, int mark) throws IOException {
        int fd = socket(address instanceof Inet6Address ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, "tcp");
        try {
            if (mark != 0) {
                setInt(fd, SOL_SOCKET, SO_MARK, mark, "SO_MARK");
            }
            return fd;
        } catch (IOException e) {
            close(fd);
            throw e;
        }
    }

    /** A listening TCP socket on {@code listen} (in the calling thread's namespace), non-blocking. */
    public static int tcpListener(InetSocketAddress listen, int backlog) throws IOException {
        int fd = tcpSocket(listen.getAddress(), 0);
        try {
            setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
            try (Arena arena = Arena.ofConfined()) {
                return bindAndListen(fd, sockaddr(arena, listen), backlog, listen.toString());
            }
        } catch (IOException | RuntimeException e) {
            close(fd);
            throw e;
        }
    }

    /** Binds {@code fd} to {@code address} and listens; {@code fd} on success, the caller closes it on failure. */
    private static int bindAndListen(int fd, MemorySegment address, int backlog, String where) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) BIND.invokeExact(state, fd, address, (int) address.byteSize()), state, "bind(" + where + ")");
            check((int) LISTEN.invokeExact(state, fd, backlog), state, "listen(" + where + ")");
            return fd;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Starts connecting the non-blocking {@code fd} to {@code remote}: true when it connected at
     * once, false when it is in progress (writable once done; then {@link #connectError}).
     *
     * @throws IOException when it failed at once
     */
    public static boolean startConnect(int fd, InetSocketAddress remote) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = sockaddr(arena, remote);
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) CONNECT.invokeExact(state, fd, address, (int) address.byteSize());
            if (result == 0) {
                return true;
            }
            int errno = (int) ERRNO.get(state, 0L);
            if (errno != EINPROGRESS) {
                throw failure("connect(" + remote + ")", errno);
            }
            return false;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Empty when a connect that was in progress on {@code fd} succeeded; otherwise why it failed. */
    public static java.util.Optional<String> connectError(int fd, InetSocketAddress remote) throws IOException {
        int error = getInt(fd, SOL_SOCKET, SO_ERROR, "SO_ERROR");
        return error == 0 ? java.util.Optional.empty() : java.util.Optional.of(failure("connect(" + remote + ")", error).getMessage());
    }

    /**
     * Connects the non-blocking {@code fd} to {@code remote}, waiting at most {@code timeout};
     * on failure the caller still owns (and closes) {@code fd}.
     */
    public static void connect(int fd, InetSocketAddress remote, Duration timeout) throws IOException {
        if (startConnect(fd, remote)) {
            return;
        }
        if (!poll(fd, POLLOUT, timeout)) {
            throw new IOException("connect(" + remote + "): timed out after " + timeout.toMillis() + " ms");
        }
        java.util.Optional<String> error = connectError(fd, remote);
        if (error.isPresent()) {
            throw new IOException(error.get());
        }
    }

    /**
     * Waits at most {@code timeout} until any of {@code fds} has its {@code events}; the events
     * each has ({@code revents}), in order. EINTR is a return with nothing ready.
     */
    public static short[] poll(int[] fds, short[] events, Duration timeout) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfds = arena.allocate(8L * fds.length, 4);
            for (int i = 0; i < fds.length; i++) {
                pollfds.set(INT, 8L * i, fds[i]);
                pollfds.set(ValueLayout.JAVA_SHORT, 8L * i + 4, events[i]);
                pollfds.set(ValueLayout.JAVA_SHORT, 8L * i + 6, (short) 0);
            }
            MemorySegment state = arena.allocate(CALL_STATE);
            int millis = (int) Math.max(0, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
            int ready = (int) POLL.invokeExact(state, pollfds, (long) fds.length, millis);
            short[] revents = new short[fds.length];
            if (ready < 0) {
                int errno = (int) ERRNO.get(state, 0L);
                if (errno == EINTR) {
                    return revents;
                }
                throw failure("poll", errno);
            }
            for (int i = 0; i < fds.length; i++) {
                revents[i] = pollfds.get(ValueLayout.JAVA_SHORT, 8L * i + 6);
            }
            return revents;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** A non-blocking eventfd: {@link #signal} makes it readable, {@link #drain} empties it. */
    public static int eventFd() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return check((int) EVENTFD.invokeExact(state, 0, EFD_NONBLOCK | EFD_CLOEXEC), state, "eventfd");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Makes the eventfd {@code fd} readable (wakes a thread polling it). */
    public static void signal(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(LONG);
            one.set(LONG, 0, 1L);
            long ignored = (long) WRITE.invokeExact(arena.allocate(CALL_STATE), fd, one, 8L);
        } catch (Throwable ignored) {
            // a full counter is still readable: the wake-up stands
        }
    }

    /** Empties the eventfd {@code fd}. */
    public static void drain(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(LONG);
            long ignored = (long) READ.invokeExact(arena.allocate(CALL_STATE), fd, value, 8L);
        } catch (Throwable ignored) {
            // empty already (EAGAIN)
        }
    }

    /** Waits until {@code fd} has {@code events} (or fails), at most {@code timeout}; false on timeout. */
    static boolean poll(int fd, int events, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            // An EINTR comes back as nothing ready: wait again for what is left.
            if (poll(new int[] {fd}, new short[] {(short) events}, Duration.ofNanos(Math.max(0, left)))[0] != 0) {
                return true;
            }
            if (left <= 0) {
                return false;
            }
        }
    }

    /** A listening {@code SOCK_SEQPACKET} Unix socket at {@code path} (blocking). */
    public static int unixListener(Path path, int backlog) throws IOException {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, "unix");
        try (Arena arena = Arena.ofConfined()) {
            return bindAndListen(fd, unixAddress(arena, path), backlog, path.toString());
        } catch (IOException | RuntimeException e) {
            close(fd);
            throw e;
        }
    }

    /** Connects a new {@code SOCK_SEQPACKET} Unix socket to {@code path} (blocking). */
    public static int unixConnect(Path path) throws IOException {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, "unix");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = unixAddress(arena, path);
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) CONNECT.invokeExact(state, fd, address, (int) address.byteSize()), state, "connect(" + path + ")");
            return fd;
        } catch (IOException | RuntimeException e) {
            close(fd);
            throw e;
        } catch (Throwable e) {
            close(fd);
            throw new IllegalStateException(e);
        }
    }

    /** Accepts one connection on a Unix listener, waiting at most {@code timeout}; -1 on timeout. */
    public static int accept(int listener, Duration timeout) throws IOException {
        if (!poll(listener, POLLIN, timeout)) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return check((int) ACCEPT4.invokeExact(state, listener, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC), state, "accept");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Who is at the other end of the Unix socket {@code fd}. */
    public static PeerCredentials peer(int fd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment credentials = arena.allocate(12, 4);
            MemorySegment length = arena.allocate(INT);
            length.set(INT, 0, 12);
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) GETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_PEERCRED, credentials, length), state, "getsockopt(SO_PEERCRED)");
            return new PeerCredentials(credentials.get(INT, 0), credentials.get(INT, 4), credentials.get(INT, 8));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops both directions of {@code fd}: a reader blocked on it wakes with end of stream. */
    public static void shutdown(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) SHUTDOWN.invokeExact(arena.allocate(CALL_STATE), fd, 2);
        } catch (Throwable ignored) {
            // already gone
        }
    }

    /** Sends one message: {@code bytes} and, with them, duplicates of {@code fds} (the caller keeps its own). */
    public static void send(int socket, byte[] bytes, List<Integer> fds) throws IOException {
        if (fds.size() > MAX_FDS) {
            throw new IllegalArgumentException("at most " + MAX_FDS + " descriptors per message, not " + fds.size());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(LONG, 8, bytes.length);
            MemorySegment header = arena.allocate(56, 8);
            header.set(ADDRESS, 16, iov);
            header.set(LONG, 24, 1L);
            if (!fds.isEmpty()) {
                long space = controlSpace(fds.size());
                MemorySegment control = arena.allocate(space, 8);
                control.set(LONG, 0, 16L + 4L * fds.size());
                control.set(INT, 8, SOL_SOCKET);
                control.set(INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fds.size(); i++) {
                    control.set(INT, 16 + 4L * i, fds.get(i));
                }
                header.set(ADDRESS, 32, control);
                header.set(LONG, 40, space);
            }
            MemorySegment state = arena.allocate(CALL_STATE);
            long sent = (long) SENDMSG.invokeExact(state, socket, header, 0x4000 /* MSG_NOSIGNAL */);
            if (sent < 0) {
                throw failure("sendmsg", (int) ERRNO.get(state, 0L));
            }
            if (sent != bytes.length) {
                throw new IOException("sendmsg: sent " + sent + " of " + bytes.length + " bytes");
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Receives one message of at most {@code maxBytes} (blocking); null at end of stream. A
     * message that was cut short, or whose descriptors did not all fit, is an error, and the
     * descriptors that did arrive are closed.
     */
    public static Received receive(int socket, int maxBytes) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(maxBytes);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(LONG, 8, maxBytes);
            long space = controlSpace(MAX_FDS);
            MemorySegment control = arena.allocate(space, 8);
            MemorySegment header = arena.allocate(56, 8);
            header.set(ADDRESS, 16, iov);
            header.set(LONG, 24, 1L);
            header.set(ADDRESS, 32, control);
            header.set(LONG, 40, space);
            MemorySegment state = arena.allocate(CALL_STATE);
            long received;
            while (true) {
                received = (long) RECVMSG.invokeExact(state, socket, header, MSG_CMSG_CLOEXEC);
                if (received >= 0) {
                    break;
                }
                int errno = (int) ERRNO.get(state, 0L);
                if (errno != EINTR) {
                    throw failure("recvmsg", errno);
                }
            }
            List<Integer> fds = new ArrayList<>();
            long controlLength = header.get(LONG, 40);
            long offset = 0;
            while (offset + 16 <= controlLength) {
                long length = control.get(LONG, offset);
                if (length < 16) {
                    break;
                }
                if (control.get(INT, offset + 8) == SOL_SOCKET && control.get(INT, offset + 12) == SCM_RIGHTS) {
                    for (long at = offset + 16; at + 4 <= offset + length; at += 4) {
                        fds.add(control.get(INT, at));
                    }
                }
                offset += (length + 7) & ~7L;
            }
            int flags = header.get(INT, 48);
            if ((flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
                fds.forEach(LinuxSockets::close);
                throw new IOException("recvmsg: a message over " + maxBytes + " bytes or " + MAX_FDS + " descriptors was cut short");
            }
            if (received == 0 && fds.isEmpty()) {
                return null;
            }
            return new Received(data.asSlice(0, received).toArray(ValueLayout.JAVA_BYTE), List.copyOf(fds));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static long controlSpace(int fds) {
        return 16 + ((4L * fds + 7) & ~7L);
    }

    private static int socket(int family, int type, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return check((int) SOCKET.invokeExact(state, family, type, 0), state, "socket(" + what + ")");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static void setInt(int fd, int level, int option, int value, String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(INT);
            v.set(INT, 0, value);
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) SETSOCKOPT.invokeExact(state, fd, level, option, v, 4), state, "setsockopt(" + name + ")");
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** An integer socket option of {@code fd}. */
    static int getInt(int fd, int level, int option, String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(INT);
            MemorySegment length = arena.allocate(INT);
            length.set(INT, 0, 4);
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) GETSOCKOPT.invokeExact(state, fd, level, option, v, length), state, "getsockopt(" + name + ")");
            return v.get(INT, 0);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@code SO_MARK} of {@code fd}. */
    public static int mark(int fd) throws IOException {
        return getInt(fd, SOL_SOCKET, SO_MARK, "SO_MARK");
    }

    private static MemorySegment sockaddr(Arena arena, InetSocketAddress socket) {
        InetAddress address = socket.getAddress();
        if (address instanceof Inet4Address) {
            MemorySegment in = arena.allocate(16, 4);
            in.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
            in.set(ValueLayout.JAVA_BYTE, 2, (byte) (socket.getPort() >> 8));
            in.set(ValueLayout.JAVA_BYTE, 3, (byte) socket.getPort());
            MemorySegment.copy(address.getAddress(), 0, in, ValueLayout.JAVA_BYTE, 4, 4);
            return in;
        }
        MemorySegment in6 = arena.allocate(28, 4);
        in6.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET6);
        in6.set(ValueLayout.JAVA_BYTE, 2, (byte) (socket.getPort() >> 8));
        in6.set(ValueLayout.JAVA_BYTE, 3, (byte) socket.getPort());
        MemorySegment.copy(address.getAddress(), 0, in6, ValueLayout.JAVA_BYTE, 8, 16);
        if (address instanceof Inet6Address v6) {
            in6.set(INT, 24, v6.getScopeId());
        }
        return in6;
    }

    private static MemorySegment unixAddress(Arena arena, Path path) throws IOException {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= 108) {
            throw new IOException("unix socket path " + path + " is longer than 107 bytes");
        }
        MemorySegment un = arena.allocate(110, 2);
        un.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(name, 0, un, ValueLayout.JAVA_BYTE, 2, name.length);
        return un;
    }

    private static int check(int result, MemorySegment state, String call) throws IOException {
        if (result < 0) {
            throw failure(call, (int) ERRNO.get(state, 0L));
        }
        return result;
    }

    private static IOException failure(String call, int errno) {
        return new IOException(call + ": " + strerror(errno) + " (errno " + errno + ")");
    }

    private static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable e) {
            return "error";
        }
    }
}
