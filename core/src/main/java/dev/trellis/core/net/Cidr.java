package dev.trellis.core.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/** An IP network ({@code 10.0.0.0/8}, {@code fd00::/8}) and membership. Immutable. */
public record Cidr(byte[] network, int bits) {

    public Cidr {
        network = network.clone();
        if (network.length != 4 && network.length != 16) {
            throw new IllegalArgumentException("cidr: a network has 4 or 16 bytes, not " + network.length);
        }
        if (bits < 0 || bits > network.length * 8) {
            throw new IllegalArgumentException("cidr: /" + bits + " is outside 0-" + network.length * 8);
        }
    }

    /** Empty for text that is not a CIDR. */
    public static Optional<Cidr> parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            return Optional.empty();
        }
        try {
            String address = text.substring(0, slash);
            if (!address.matches("[0-9a-fA-F:.]+")) {
                return Optional.empty();
            }
            byte[] network = InetAddress.getByName(address).getAddress();
            int bits = Integer.parseInt(text.substring(slash + 1));
            return bits < 0 || bits > network.length * 8 ? Optional.empty() : Optional.of(new Cidr(network, bits));
        } catch (UnknownHostException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    @Override
    public byte[] network() {
        return network.clone();
    }

    /** An IPv6 network. */
    public boolean isIpv6() {
        return network.length == 16;
    }

    /** {@code address/bits}, with the address as given. */
    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + bits;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Cidr cidr && cidr.bits == bits && java.util.Arrays.equals(cidr.network, network);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Arrays.hashCode(network) + bits;
    }

    public boolean contains(InetAddress address) {
        byte[] candidate = address.getAddress();
        if (candidate.length != network.length) {
            return false;
        }
        int full = bits / 8;
        for (int i = 0; i < full; i++) {
            if (candidate[i] != network[i]) {
                return false;
            }
        }
        int rest = bits % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (candidate[full] & mask) == (network[full] & mask);
    }
}
