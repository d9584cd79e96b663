/// A disassembler for BPF instructions (the bytes ``BPF/dumpFunction(_:)`` returns), printing
/// them as Python BCC's `bcc.disassembler` does: `  12: (85) call bpf_ktime_get_ns#5`.
///
/// ```swift
/// print(try b.disassembleFunction("hello"))
/// // Disassemble of BPF program hello:
/// //    0: (b7) r6 = 0
/// //    1: (7b) *(u64*)(r10 -8) = r6
/// ```
///
/// Where Python's text is wrong or Python fails, SwiftBCC prints the instruction correctly
/// instead: the upper word of a 64-bit load is numbered with its own index (Python repeats the
/// next one), `lddw` says `<map at fd #N>` only for a map fd load (`src_reg` 1; Python: whenever
/// the upper half is zero), `jsle` with a register (0xdd) shows the register, byte swaps print as
/// `r1 = be16 r1`, `neg` as `-`, helpers past Python's list of 93 are named from the kernel's
/// `__BPF_FUNC_MAPPER`, and the JMP32 class (`if w1 > w2 ...`), atomics (`lock *(u64*)(r1 +0) += r2`),
/// little-endian swaps and the cpu v4 instructions decode (Python stops at them).
///
/// Python: `bcc.disassembler` (`disassemble_prog`, `disassemble_str`, `disassemble_instruction`).
public enum Disassembler {
    /// One 8-byte BPF instruction (`struct bpf_insn`). Python: `bcc.disassembler.BPFInstr`.
    public struct Instruction: Sendable, Hashable {
        /// The opcode byte: the instruction class in the low three bits, then source and operation
        /// (`0x85` is `call`).
        public var opcode: UInt8
        /// Destination and source registers (the low and high nibble of byte 1).
        public var dst: UInt8
        /// The source register (the high nibble of byte 1).
        public var src: UInt8
        /// The signed 16-bit offset: of a jump, in instructions, or of a memory access, in bytes.
        public var offset: Int16
        /// The signed 32-bit immediate: a constant, a helper number, or half of a 64-bit load.
        public var imm: Int32

        /// An instruction from its fields, as `struct bpf_insn` holds them.
        public init(opcode: UInt8, dst: UInt8, src: UInt8, offset: Int16, imm: Int32) {
            self.opcode = opcode
            self.dst = dst
            self.src = src
            self.offset = offset
            self.imm = imm
        }

        /// The instruction in the 8 bytes at `bytes[start...]` (little-endian, as on x86_64 and arm64).
        public init<C: Collection<UInt8>>(_ bytes: C, at start: C.Index) {
            let b = Array(bytes[start..<bytes.index(start, offsetBy: 8)])
            opcode = b[0]
            dst = b[1] & 0x0f
            src = b[1] >> 4
            offset = Int16(bitPattern: UInt16(b[2]) | UInt16(b[3]) << 8)
            imm = Int32(bitPattern: UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24)
        }

        var immu: UInt32 { UInt32(bitPattern: imm) }
    }

    /// `BPF_PSEUDO_CALL`: a call to another BPF function (`src_reg` 1 of a call).
    public static let pseudoCall: UInt8 = 1

    /// The text of a function's instructions, headed `Disassemble of BPF program <name>:`, one
    /// instruction a line. Python: `bcc.disassembler.disassemble_prog(func_name, bpfstr)`.
    public static func disassembleProg(_ functionName: String, _ bytes: [UInt8]) -> String {
        (["Disassemble of BPF program \(functionName):"] + disassembleStr(bytes)).joined(separator: "\n")
    }

    /// One line per instruction of `bytes` (trailing bytes short of an instruction are ignored).
    /// Python: `bcc.disassembler.disassemble_str(bpfstr)`.
    public static func disassembleStr(_ bytes: [UInt8]) -> [String] {
        let n = bytes.count / 8
        let insns = (0..<n).map { Instruction(bytes, at: $0 * 8) }
        var lines: [String] = []
        var i = 0
        while i < n {
            let (text, skip) = disassembleInstruction(i, insns[i], i + 1 < n ? insns[i + 1] : nil)
            lines.append(text)
            for s in 0..<skip where i + 1 + s < n {
                lines.append(pad(i + 1 + s) + ":      (64-bit upper word)")
            }
            i += 1 + skip
        }
        return lines
    }

    /// The line for instruction `index`, and how many following words it uses (1 for `lddw`).
    /// Python: `bcc.disassembler.disassemble_instruction(i, w0, w1)`.
    public static func disassembleInstruction(_ index: Int, _ w0: Instruction, _ w1: Instruction? = nil) -> (String, Int) {
        let (text, skip) = decode(index, w0, w1)
        return (pad(index) + ": (" + hex2(w0.opcode) + ") " + text, skip)
    }

    // MARK: Decoding

    static func pad(_ i: Int) -> String {
        let s = String(i)
        return s.count >= 4 ? s : String(repeating: " ", count: 4 - s.count) + s
    }

    static func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    /// Python's `'%+d'`.
    static func signed<T: BinaryInteger>(_ v: T) -> String { v < 0 ? "\(v)" : "+\(v)" }

    static func sizeBits(_ opcode: UInt8) -> Int {
        switch opcode & 0x18 {
        case 0x00: return 32
        case 0x08: return 16
        case 0x10: return 8
        default: return 64
        }
    }

    static let aluOperators: [UInt8: String] = [
        0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=", 0x70: ">>=",
        0x90: "%=", 0xa0: "^=", 0xb0: "=", 0xc0: "s>>=",
    ]

    static let jumpOperators: [UInt8: String] = [
        0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=",
        0xa0: "<", 0xb0: "<=", 0xc0: "s<", 0xd0: "s<=",
    ]

    static func decode(_ i: Int, _ w: Instruction, _ w1: Instruction?) -> (String, Int) {
        let op = w.opcode
        let cls = op & 0x07
        let code = op & 0xf0
        let usesRegister = op & 0x08 != 0
        switch cls {
        case 0x04, 0x07:  // ALU, ALU64
            let bits = cls == 0x07 ? 64 : 32
            switch code {
            case 0x80:
                return ("r\(w.dst) = - (u\(bits))r\(w.dst)", 0)
            case 0xd0:
                if cls == 0x07 { return ("r\(w.dst) = bswap\(w.imm) r\(w.dst)", 0) }
                return ("r\(w.dst) = \(usesRegister ? "be" : "le")\(w.imm) r\(w.dst)", 0)
            default:
                guard var sym = aluOperators[code] else { return (unknown(op), 0) }
                if (code == 0x30 || code == 0x90), w.offset == 1 { sym = "s" + sym }  // sdiv, smod
                if usesRegister {
                    if code == 0xb0, [8, 16, 32].contains(w.offset) { return ("r\(w.dst) = (s\(w.offset))r\(w.src)", 0) }  // movsx
                    return ("r\(w.dst) \(sym) r\(w.src)", 0)
                }
                if code == 0x40 || code == 0x50 || code == 0xa0 {
                    return ("r\(w.dst) \(sym) 0x\(String(w.immu, radix: 16))", 0)
                }
                return ("r\(w.dst) \(sym) \(w.imm)", 0)
            }
        case 0x05, 0x06:  // JMP, JMP32
            let reg = cls == 0x06 ? "w" : "r"
            switch code {
            case 0x00:
                if cls == 0x06 { return ("gotol \(signed(w.imm)) <\(i + Int(w.imm) + 1)>", 0) }
                return ("goto \(signed(w.offset)) <\(i + Int(w.offset) + 1)>", 0)
            case 0x80:
                if cls == 0x06 { return (unknown(op), 0) }
                if w.src == pseudoCall { return ("call \(signed(w.imm))", 0) }
                if w.src == 2 { return ("call kfunc#\(w.imm)", 0) }
                if Int(w.immu) < helpers.count { return ("call bpf_\(helpers[Int(w.immu)])#\(w.immu)", 0) }
                return ("call <unknown helper #\(w.immu)>", 0)
            case 0x90:
                return cls == 0x06 ? (unknown(op), 0) : ("exit", 0)
            default:
                guard let sym = jumpOperators[code] else { return (unknown(op), 0) }
                let rhs = usesRegister ? "\(reg)\(w.src)" : "\(w.imm)"
                return ("if \(reg)\(w.dst) \(sym) \(rhs) goto pc\(signed(w.offset)) <\(i + Int(w.offset) + 1)>", 0)
            }
        case 0x00:  // LD
            let bits = sizeBits(op)
            switch op & 0xe0 {
            case 0x00 where op == 0x18:
                guard let w1 else { return ("r\(w.dst) = <lddw without its upper word>", 0) }
                switch w.src {
                case 1: return ("r\(w.dst) = <map at fd #\(w.imm)>", 1)
                case 2: return ("r\(w.dst) = <map value at fd #\(w.imm) \(signed(w1.imm))>", 1)
                default:
                    let v = UInt64(w1.immu) << 32 | UInt64(w.immu)
                    return ("r\(w.dst) = 0x\(String(v, radix: 16))", 1)
                }
            case 0x20: return ("r0 = *(u\(bits)*)skb[\(w.imm)]", 0)
            case 0x40: return ("r0 = *(u\(bits)*)skb[r\(w.src) \(signed(w.imm))]", 0)
            default: return (unknown(op), 0)
            }
        case 0x01:  // LDX
            let bits = sizeBits(op)
            switch op & 0xe0 {
            case 0x60: return ("r\(w.dst) = *(u\(bits)*)(r\(w.src) \(signed(w.offset)))", 0)
            case 0x80: return ("r\(w.dst) = *(s\(bits)*)(r\(w.src) \(signed(w.offset)))", 0)
            default: return (unknown(op), 0)
            }
        case 0x02:  // ST
            guard op & 0xe0 == 0x60 else { return (unknown(op), 0) }
            return ("*(u\(sizeBits(op))*)(r\(w.dst) \(signed(w.offset))) = \(w.imm)", 0)
        default:  // STX
            let bits = sizeBits(op)
            let place = "(u\(bits)*)(r\(w.dst) \(signed(w.offset)))"
            switch op & 0xe0 {
            case 0x60: return ("*\(place) = r\(w.src)", 0)
            case 0xc0:
                let names: [UInt32: (String, String)] = [0x00: ("+=", "add"), 0x40: ("|=", "or"), 0x50: ("&=", "and"), 0xa0: ("^=", "xor")]
                switch w.immu {
                case 0xe1: return ("r\(w.src) = xchg(\(place), r\(w.src))", 0)
                case 0xf1: return ("r0 = cmpxchg(\(place), r0, r\(w.src))", 0)
                default:
                    guard let (sym, name) = names[w.immu & ~1] else { return (unknown(op), 0) }
                    if w.immu & 1 != 0 { return ("r\(w.src) = atomic_fetch_\(name)(\(place), r\(w.src))", 0) }
                    return ("lock *\(place) \(sym) r\(w.src)", 0)
                }
            default: return (unknown(op), 0)
            }
        }
    }

    static func unknown(_ op: UInt8) -> String { "unknown <0x\(String(op, radix: 16))>" }

    /// BPF helper names by number, `unspec` (0) first: the kernel UAPI's `__BPF_FUNC_MAPPER`
    /// (Python's `BPFDecoder.bpf_helpers` is its first 93 entries).
    public static let helpers: [String] = [
        "unspec", "map_lookup_elem", "map_update_elem", "map_delete_elem", "probe_read", "ktime_get_ns",
        "trace_printk", "get_prandom_u32", "get_smp_processor_id", "skb_store_bytes", "l3_csum_replace",
        "l4_csum_replace", "tail_call", "clone_redirect", "get_current_pid_tgid", "get_current_uid_gid",
        "get_current_comm", "get_cgroup_classid", "skb_vlan_push", "skb_vlan_pop", "skb_get_tunnel_key",
        "skb_set_tunnel_key", "perf_event_read", "redirect", "get_route_realm", "perf_event_output",
        "skb_load_bytes", "get_stackid", "csum_diff", "skb_get_tunnel_opt", "skb_set_tunnel_opt",
        "skb_change_proto", "skb_change_type", "skb_under_cgroup", "get_hash_recalc", "get_current_task",
        "probe_write_user", "current_task_under_cgroup", "skb_change_tail", "skb_pull_data", "csum_update",
        "set_hash_invalid", "get_numa_node_id", "skb_change_head", "xdp_adjust_head", "probe_read_str",
        "get_socket_cookie", "get_socket_uid", "set_hash", "setsockopt", "skb_adjust_room", "redirect_map",
        "sk_redirect_map", "sock_map_update", "xdp_adjust_meta", "perf_event_read_value",
        "perf_prog_read_value", "getsockopt", "override_return", "sock_ops_cb_flags_set", "msg_redirect_map",
        "msg_apply_bytes", "msg_cork_bytes", "msg_pull_data", "bind", "xdp_adjust_tail", "skb_get_xfrm_state",
        "get_stack", "skb_load_bytes_relative", "fib_lookup", "sock_hash_update", "msg_redirect_hash",
        "sk_redirect_hash", "lwt_push_encap", "lwt_seg6_store_bytes", "lwt_seg6_adjust_srh",
        "lwt_seg6_action", "rc_repeat", "rc_keydown", "skb_cgroup_id", "get_current_cgroup_id",
        "get_local_storage", "sk_select_reuseport", "skb_ancestor_cgroup_id", "sk_lookup_tcp",
        "sk_lookup_udp", "sk_release", "map_push_elem", "map_pop_elem", "map_peek_elem", "msg_push_data",
        "msg_pop_data", "rc_pointer_rel", "spin_lock", "spin_unlock", "sk_fullsock", "tcp_sock",
        "skb_ecn_set_ce", "get_listener_sock", "skc_lookup_tcp", "tcp_check_syncookie", "sysctl_get_name",
        "sysctl_get_current_value", "sysctl_get_new_value", "sysctl_set_new_value", "strtol", "strtoul",
        "sk_storage_get", "sk_storage_delete", "send_signal", "tcp_gen_syncookie", "skb_output",
        "probe_read_user", "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str",
        "tcp_send_ack", "send_signal_thread", "jiffies64", "read_branch_records", "get_ns_current_pid_tgid",
        "xdp_output", "get_netns_cookie", "get_current_ancestor_cgroup_id", "sk_assign", "ktime_get_boot_ns",
        "seq_printf", "seq_write", "sk_cgroup_id", "sk_ancestor_cgroup_id", "ringbuf_output",
        "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard", "ringbuf_query", "csum_level",
        "skc_to_tcp6_sock", "skc_to_tcp_sock", "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock",
        "skc_to_udp6_sock", "get_task_stack", "load_hdr_opt", "store_hdr_opt", "reserve_hdr_opt",
        "inode_storage_get", "inode_storage_delete", "d_path", "copy_from_user", "snprintf_btf",
        "seq_printf_btf", "skb_cgroup_classid", "redirect_neigh", "per_cpu_ptr", "this_cpu_ptr",
        "redirect_peer", "task_storage_get", "task_storage_delete", "get_current_task_btf", "bprm_opts_set",
        "ktime_get_coarse_ns", "ima_inode_hash", "sock_from_file", "check_mtu", "for_each_map_elem",
        "snprintf", "sys_bpf", "btf_find_by_name_kind", "sys_close", "timer_init", "timer_set_callback",
        "timer_start", "timer_cancel", "get_func_ip", "get_attach_cookie", "task_pt_regs",
        "get_branch_snapshot", "trace_vprintk", "skc_to_unix_sock", "kallsyms_lookup_name", "find_vma",
        "loop", "strncmp", "get_func_arg", "get_func_ret", "get_func_arg_cnt", "get_retval", "set_retval",
        "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes", "copy_from_user_task", "skb_set_tstamp",
        "ima_file_hash", "kptr_xchg", "map_lookup_percpu_elem", "skc_to_mptcp_sock", "dynptr_from_mem",
        "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr", "ringbuf_discard_dynptr", "dynptr_read",
        "dynptr_write", "dynptr_data", "tcp_raw_gen_syncookie_ipv4", "tcp_raw_gen_syncookie_ipv6",
        "tcp_raw_check_syncookie_ipv4", "tcp_raw_check_syncookie_ipv6", "ktime_get_tai_ns",
        "user_ringbuf_drain",
    ]
}

extension BPF {
    /// The BPF instructions of function `name` as text, headed `Disassemble of BPF program <name>:`
    /// (see ``Disassembler``). Python: `b.disassemble_func(func_name)`; libbcc: `bpf_function_start`,
    /// `bpf_function_size`.
    public func disassembleFunction(_ name: String) throws -> String {
        Disassembler.disassembleProg(name, try dumpFunction(name))
    }
}
