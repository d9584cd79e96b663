import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP side: `/metrics` (a scrape) and `/healthz`, served by Hummingbird under a
/// swift-service-lifecycle `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public enum ExporterServer {
    /// Parses `HOST:PORT` (`[v6]:PORT` too).
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Serves `exporter` on `host:port` until SIGTERM/SIGINT; logs `listening on HOST:PORT`
    /// (the real port when `port` is 0) once the socket is bound. Does not clean the exporter up.
    public static func run(exporter: Exporter, host: String, port: Int, logger: Logger) async throws {
        let router = Router()
        let queue = DispatchQueue(label: "swiftbcc-exporter.scrape")
        router.get("/metrics") { _, _ -> Response in
            // Map reads are blocking system calls: keep them off the event loop.
            let bytes: [UInt8] = await withCheckedContinuation { cont in
                queue.async { cont.resume(returning: exporter.scrape()) }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/healthz") { _, _ -> String in "ok\n" }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "swiftbcc-exporter"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.notice("listening on \(host):\(bound)")
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
