/// TCP state and header flag names, for tools that report sockets. Python: `bcc.tcp`.
public enum TCP {
    /// The kernel's TCP states (`include/net/tcp_states.h`) by number: 1 `ESTABLISHED` ...
    /// 12 `NEW_SYN_RECV`. Python: `bcc.tcp.tcpstate`.
    public static let tcpstate: [Int: String] = [
        1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
        7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
    ]

    /// TCP header flags (`include/net/tcp.h`). Python: `bcc.tcp.TCPHDR_FIN` ... `TCPHDR_CWR`.
    public static let tcphdrFIN: UInt8 = 0x01
    public static let tcphdrSYN: UInt8 = 0x02
    public static let tcphdrRST: UInt8 = 0x04
    public static let tcphdrPSH: UInt8 = 0x08
    public static let tcphdrACK: UInt8 = 0x10
    public static let tcphdrURG: UInt8 = 0x20
    public static let tcphdrECE: UInt8 = 0x40
    public static let tcphdrCWR: UInt8 = 0x80

    static let flagNames: [(UInt8, String)] = [
        (tcphdrFIN, "FIN"), (tcphdrSYN, "SYN"), (tcphdrRST, "RST"), (tcphdrPSH, "PSH"),
        (tcphdrACK, "ACK"), (tcphdrURG, "URG"), (tcphdrECE, "ECE"), (tcphdrCWR, "CWR"),
    ]

    /// The flags set in `flags`, `|`-separated in header order: `0x12` gives `SYN|ACK`; bits
    /// above the eight flags are ignored. Python: `bcc.tcp.flags2str(flags)`.
    public static func flags2str<T: BinaryInteger>(_ flags: T) -> String {
        flagNames.filter { flags & T($0.0) != 0 }.map(\.1).joined(separator: "|")
    }
}
