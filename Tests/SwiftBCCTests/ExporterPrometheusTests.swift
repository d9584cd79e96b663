import Foundation
import Glibc
@testable import SwiftBCC
import Testing

/// A plain HTTP/1.1 GET on loopback: (status, body), or nil when nothing answers.
func httpGet(port: Int, _ path: String, timeout: Double = 5) -> (status: Int, body: String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0 else { return nil }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { break }
        response += chunk[..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else { return nil }
    var body = String(text[headerEnd.upperBound...])
    if text[..<headerEnd.lowerBound].lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
    return (status, body)
}

/// The body of a chunked HTTP response.
func dechunk(_ s: String) -> String {
    var out = ""
    var rest = Substring(s)
    while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
        let start = lineEnd.upperBound
        guard let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.endIndex) else { break }
        out += rest[start..<end]
        rest = rest[end...].dropFirst(2)
    }
    return out
}

/// A TCP port nobody listens on now (bound and released).
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            _ = bind(fd, p, len)
            return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

extension Probe {
    /// Is Debian's prometheus server installed (scripts/setup installs it)?
    static let prometheus: Result = FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")
        ? Result(ok: true, reason: "/usr/bin/prometheus is installed")
        : Result(ok: false, reason: "/usr/bin/prometheus is missing (apt-get install prometheus, or ./scripts/setup)")
}

extension Trait where Self == ConditionTrait {
    static var requiresPrometheus: Self {
        .enabled("needs a Prometheus server: \(Probe.prometheus.reason)") { Probe.prometheus.ok }
    }
}

extension KernelSuite {
    /// swiftbcc-exporter as users run it: the binary with a shipped config, scraped by a real
    /// Prometheus server, then stopped with SIGTERM.
    @Suite("Exporter with Prometheus", .requiresBPF, .requiresPrometheus)
    struct ExporterPrometheusTests {
        static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../examples/exporter").standardized

        /// Waits for `condition` up to `timeout` seconds, polling every 0.2 s, while `alive` holds.
        func waitFor<T>(_ timeout: Double, alive: () -> Bool = { true }, _ condition: () -> T?) -> T? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let v = condition() { return v }
                if !alive() { return condition() }
                usleep(200_000)
            }
            return condition()
        }

        @Test("Prometheus scrapes swiftbcc_syscalls_total{comm} from the shipped syscalls config; SIGTERM unloads everything and exits 0")
        func syscallsPerComm() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-exporter-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }

            // The shipped config, its function renamed so this run's program is unique in the kernel.
            let fn = uniqueFunctionName("exs")
            let shipped = try String(contentsOf: Self.examples.appendingPathComponent("syscalls.yaml"), encoding: .utf8)
            #expect(shipped.contains("exp_sys_enter"))
            let config = dir.appendingPathComponent("syscalls.yaml")
            try shipped.replacingOccurrences(of: "exp_sys_enter", with: fn).write(to: config, atomically: true, encoding: .utf8)

            let exporter = try Child(try examplePath("swiftbcc-exporter"), ["--config", config.path, "--listen", "127.0.0.1:0"])
            defer { if exporter.process.isRunning { kill(exporter.process.processIdentifier, SIGKILL); exporter.process.waitUntilExit() } }
            let port: Int? = waitFor(60, alive: { exporter.process.isRunning }) {
                exporter.stderr.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }
            }
            let exporterPort = try #require(port, "the exporter did not say `listening on 127.0.0.1:PORT` within 60 s; stderr: \(exporter.stderr)")
            #expect(loadedProgramNames().contains(fn), "\(fn) is not loaded while the exporter runs")
            #expect(httpGet(port: exporterPort, "/healthz")?.body == "ok\n")

            let promPort = freeLoopbackPort()
            try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: swiftbcc
                static_configs:
                  - targets: ["127.0.0.1:\(exporterPort)"]
            """.write(to: dir.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
            let prometheus = try Child("/usr/bin/prometheus", [
                "--config.file=\(dir.appendingPathComponent("prometheus.yml").path)",
                "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(promPort)",
            ])
            defer { if prometheus.process.isRunning { kill(prometheus.process.processIdentifier, SIGKILL); prometheus.process.waitUntilExit() } }
            let ready = waitFor(60, alive: { prometheus.process.isRunning }) { httpGet(port: promPort, "/-/ready")?.status == 200 ? true : nil }
            try #require(ready == true, "Prometheus was not ready on 127.0.0.1:\(promPort) within 60 s; stderr: \(prometheus.stderr.suffix(2000))")

            // N getpid calls from a process whose comm is unique to this run.
            let comm = uniqueMarker("swx")
            let n = 500
            let helper = try Child("/usr/bin/python3", ["-c", """
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            assert libc.prctl(15, b"\(comm)", 0, 0, 0) == 0
            for _ in range(\(n)):
                libc.syscall(39)
            """])
            #expect(helper.wait(timeout: 30) == 0, "helper: \(helper.stderr)")

            let query = "swiftbcc_syscalls_total{comm=\"\(comm)\"}"
            let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            var last = ""
            let value: Double? = waitFor(60, alive: { prometheus.process.isRunning && exporter.process.isRunning }) {
                guard let r = httpGet(port: promPort, "/api/v1/query?query=\(encoded)") else { return nil }
                last = r.body
                guard let json = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                      let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                      let first = result.first, let pair = first["value"] as? [Any], let text = pair.last as? String,
                      let v = Double(text), v >= Double(n) else { return nil }
                return v
            }
            try #require(value != nil, """
                waited 60 s for Prometheus to have \(query) >= \(n); last answer: \(last)
                exporter running: \(exporter.process.isRunning), stderr: \(exporter.stderr.suffix(2000))
                targets: \(httpGet(port: promPort, "/api/v1/targets")?.body.prefix(2000) ?? "no answer")
                """)
            // The exporter's own metrics reach Prometheus too.
            let up = httpGet(port: promPort, "/api/v1/query?query=swiftbcc_exporter_programs_loaded")?.body ?? ""
            #expect(up.contains("\"1\""), "\(up)")

            kill(exporter.process.processIdentifier, SIGTERM)
            let status = exporter.wait(timeout: 20)
            #expect(status == 0, "exit status after SIGTERM: \(String(describing: status)); stderr: \(exporter.stderr.suffix(2000))")
            // The process is gone, so its programs are too once the kernel's grace period ends.
            #expect(eventually(timeout: 5) { !loadedProgramNames().contains(fn) }, "\(fn) is still loaded after the exporter exited")
        }

        @Test("a config error exits 2 naming the line; a program that fails to load exits 1; neither serves")
        func failures() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbcc-exporter-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let bad = dir.appendingPathComponent("bad.yaml")
            try "programs:\n  - name: p\n    text: x\n    tracepoint: []\n".write(to: bad, atomically: true, encoding: .utf8)
            let c1 = try Child(try examplePath("swiftbcc-exporter"), ["--config", bad.path, "--listen", "127.0.0.1:0"])
            #expect(c1.wait(timeout: 30) == 2)
            #expect(c1.stderr.contains("\(bad.path):4:5: unknown field `tracepoint` in a program"), "\(c1.stderr)")

            let fn = uniqueFunctionName("exf")
            let failing = dir.appendingPathComponent("failing.yaml")
            try """
            programs:
              - name: p
                text: "int \(fn)(void *ctx) { return 0; }"
                tracepoints:
                  - {tracepoint: "sched:sched_switch", function: \(fn)}
                metrics:
                  counters:
                    - {name: x_total, help: h, table: absent}
            """.write(to: failing, atomically: true, encoding: .utf8)
            let c2 = try Child(try examplePath("swiftbcc-exporter"), ["--config", failing.path, "--listen", "127.0.0.1:0"])
            #expect(c2.wait(timeout: 60) == 1)
            #expect(c2.stderr.contains("\(failing.path):8:") && c2.stderr.contains("table `absent`"), "\(c2.stderr)")
            #expect(!c2.stderr.contains("listening on"), "\(c2.stderr)")
            #expect(eventually(timeout: 5) { !loadedProgramNames().contains(fn) })
        }
    }
}
