package dev.microvm.orchestrator.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Which local addresses listen on a TCP port, as the kernel says (Linux /proc). */
public final class ListeningSockets {
    private ListeningSockets() {}

    /**
     * Addresses with a listening TCP socket on {@code port}, from /proc/net/tcp and tcp6 (local
     * address, state 0A): IPv4 and v4-mapped IPv6 as dotted quads, a wildcard as 0.0.0.0 or ::.
     */
    public static List<String> addresses(int port) throws IOException {
        List<String> out = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines = Files.readAllLines(Path.of(table));
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                String[] local = f[1].split(":");
                if (!f[3].equals("0A") || Integer.parseInt(local[1], 16) != port) continue;
                byte[] b = HexFormat.of().parseHex(local[0]); // 32-bit words in host (little-endian) order
                if (b.length == 16 && local[0].matches("0{32}")) {
                    out.add("::");
                } else if (b.length == 16 && !local[0].startsWith("0000000000000000FFFF0000")) {
                    out.add("v6:" + local[0]);
                } else {
                    int o = b.length - 4;
                    out.add((b[o + 3] & 0xff) + "." + (b[o + 2] & 0xff) + "." + (b[o + 1] & 0xff) + "." + (b[o] & 0xff));
                }
            }
        }
        return out;
    }

}
