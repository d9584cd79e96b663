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
    /// `TCPHDR_SYN` (0x02): synchronize sequence numbers. Python: `bcc.tcp.TCPHDR_SYN`.
    public static let tcphdrSYN: UInt8 = 0x02
    /// `TCPHDR_RST` (0x04): reset the connection. Python: `bcc.tcp.TCPHDR_RST`.
    public static let tcphdrRST: UInt8 = 0x04
    /// `TCPHDR_PSH` (0x08): push the data to the application. Python: `bcc.tcp.TCPHDR_PSH`.
    public static let tcphdrPSH: UInt8 = 0x08
    /// `TCPHDR_ACK` (0x10): the acknowledgment number is valid. Python: `bcc.tcp.TCPHDR_ACK`.
    public static let tcphdrACK: UInt8 = 0x10
    /// `TCPHDR_URG` (0x20): the urgent pointer is valid. Python: `bcc.tcp.TCPHDR_URG`.
    public static let tcphdrURG: UInt8 = 0x20
    /// `TCPHDR_ECE` (0x40): ECN echo. Python: `bcc.tcp.TCPHDR_ECE`.
    public static let tcphdrECE: UInt8 = 0x40
    /// `TCPHDR_CWR` (0x80): congestion window reduced. Python: `bcc.tcp.TCPHDR_CWR`.
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
