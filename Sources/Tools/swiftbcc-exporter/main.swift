import ArgumentParser
import Foundation
import Logging
import SwiftBCCExporter

/// swiftbcc-exporter: BPF maps as Prometheus metrics (see docs/Exporter.md).
@main
struct SwiftBCCExporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftbcc-exporter",
        abstract: "Load BPF programs from a config and serve their maps as Prometheus metrics.")

    @Option(name: .long, help: "The YAML config (programs and metrics).")
    var config: String

    @Option(name: .long, help: "HOST:PORT to serve /metrics and /healthz on (port 0: any free port).")
    var listen: String = "127.0.0.1:9435"

    @Flag(name: .long, help: "Parse and check the config file (structure, types, names, source files; no kernel access) and exit.")
    var check = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "swiftbcc-exporter")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        guard let (host, port) = ExporterServer.parseListen(listen) else {
            fail("--listen \(listen): give HOST:PORT, e.g. 127.0.0.1:9435", code: 2)
        }
        let parsed: ExporterConfig
        do {
            parsed = try ExporterConfig.load(path: config)
        } catch {
            fail("\(error)", code: 2)
        }
        if check {
            print("\(config): OK (\(parsed.programs.count) programs, \(parsed.programs.reduce(0) { $0 + $1.metrics.count }) metrics)")
            return
        }
        let exporter = Exporter(config: parsed, logger: logger)
        do {
            try exporter.load()
        } catch {
            fail("\(error)", code: 1)
        }
        do {
            try await ExporterServer.run(exporter: exporter, host: host, port: port, logger: logger)
        } catch {
            exporter.cleanup()
            fail("serving on \(listen) failed: \(error)", code: 1)
        }
        exporter.cleanup()
        logger.notice("stopped: every program detached and unloaded")
    }

    func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data(("swiftbcc-exporter: " + message + "\n").utf8))
        Foundation.exit(code)
    }
}
