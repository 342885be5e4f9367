package dev.trellis.proxy.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/** An IP network ({@code 10.0.0.0/8}, {@code fd00::/8}) and membership. Immutable. */
record Cidr(byte[] network, int bits) {

    /** Empty for text that is not a CIDR (policy from the control plane is validated there; this stays defensive). */
    static Optional<Cidr> parse(String text) {
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

    boolean contains(InetAddress address) {
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
