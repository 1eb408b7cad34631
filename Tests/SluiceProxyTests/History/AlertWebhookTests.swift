import Foundation
import Logging
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import Testing

@testable import SluiceProxy

/// The alert webhook against real receivers on 127.0.0.1: delivery, bounded retries on a
/// refusing, failing or silent receiver, the bounded queue, and a loop that never waits.
@Suite struct AlertWebhookTests {
    /// An event loop on its own thread, and a webhook on it.
    final class Rig: @unchecked Sendable {
        let loop: EventLoop
        var webhook: AlertWebhook!

        init(port: Int, timeoutMillis: UInt64 = 300, backoffMillis: UInt64 = 100) throws {
            loop = try EventLoop()
            let target = try #require(
                try WebhookTarget.parse("http://127.0.0.1:\(port)/hooks/sluice?x=1").get())
            webhook = AlertWebhook(
                loop: loop, target: target, logger: Logger(label: "test"), tryTimeout: timeoutMillis * 1_000_000,
                backoff: backoffMillis * 1_000_000)
            Thread { [loop] in loop.run() }.start()
        }

        /// Runs `body` on the loop and returns its value.
        func onLoop<T>(_ body: @escaping () -> T) -> T {
            let box = LoopBox<T>()
            nonisolated(unsafe) let body = body
            loop.execute {
                box.value = body()
                box.done.signal()
            }
            box.done.wait()
            return box.value!
        }

        /// Polls until `(delivered, failed)` reach the counts, or 10 s pass.
        func waitFor(delivered: Int, failed: Int) -> (Int, Int) {
            let end = Date().addingTimeInterval(10)
            var last = (0, 0)
            while Date() < end {
                last = onLoop { [webhook] in (webhook!.delivered, webhook!.failed) }
                if last.0 >= delivered && last.1 >= failed { return last }
                usleep(20_000)
            }
            return last
        }

        func stop() {
            onLoop { [webhook] in webhook!.close() }
            loop.stop()
        }
    }

    @Test func aChangeIsPostedAsJSONToThePath() throws {
        let receiver = try RawBackend(reply: "HTTP/1.1 204 No Content\r\n\r\n")
        let rig = try Rig(port: receiver.port)
        defer { rig.stop() }
        rig.onLoop { [webhook = rig.webhook!] in webhook.post("{\"cluster\": \"app\", \"to\": \"storm\"}") }
        #expect(rig.waitFor(delivered: 1, failed: 0) == (1, 0))
        let text = receiver.receivedText
        #expect(text.hasPrefix("POST /hooks/sluice?x=1 HTTP/1.1\r\n"))
        #expect(text.contains("\r\nHost: 127.0.0.1:\(receiver.port)\r\n"))
        #expect(text.contains("\r\nContent-Type: application/json\r\n"))
        #expect(text.contains("\r\nContent-Length: 33\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{\"cluster\": \"app\", \"to\": \"storm\"}"))
        #expect(receiver.connectionCount == 1)
    }

    @Test func aFailingReceiverGetsThreeTriesThenTheNextAlertGoes() throws {
        let receiver = try RawBackend(reply: "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
        let rig = try Rig(port: receiver.port)
        defer { rig.stop() }
        let start = Date()
        rig.onLoop { [webhook = rig.webhook!] in
            webhook.post("{\"n\": 1}")
            webhook.post("{\"n\": 2}")
        }
        #expect(rig.waitFor(delivered: 0, failed: 2) == (0, 2))
        #expect(receiver.connectionCount == 6, "3 tries each")
        // Backoff 100 ms then 200 ms, per alert: at least 0.6 s in all.
        #expect(Date().timeIntervalSince(start) >= 0.6)
    }

    @Test func refusedAndSilentReceiversTimeOutWithoutHoldingTheLoop() throws {
        // A port nobody listens on: refused at once, three times.
        let (fd, closedPort) = listenOnLoopback(backlog: 1)
        close(fd)
        let refused = try Rig(port: closedPort)
        refused.onLoop { [webhook = refused.webhook!] in webhook.post("{}") }
        #expect(refused.waitFor(delivered: 0, failed: 1) == (0, 1))
        refused.stop()

        // A receiver that reads and never answers: each try ends at its 300 ms bound, and the
        // loop goes on running other work meanwhile.
        let silent = try RawBackend(reply: "", closeAfter: false, delayMillis: 0)
        let rig = try Rig(port: silent.port)
        defer { rig.stop() }
        let start = Date()
        rig.onLoop { [webhook = rig.webhook!] in webhook.post("{}") }
        var worst = 0.0
        for _ in 0..<10 {
            let t = Date()
            _ = rig.onLoop { 0 }
            worst = max(worst, Date().timeIntervalSince(t))
            usleep(50_000)
        }
        print("webhook: the loop's slowest answer while the webhook waited: \(worst) s")
        #expect(worst < 0.1, "the loop answered within \(worst) s while the webhook waited")
        #expect(rig.waitFor(delivered: 0, failed: 1) == (0, 1))
        let took = Date().timeIntervalSince(start)
        #expect(took >= 0.9 && took < 5, "3 × 300 ms + backoff, took \(took) s")
    }

    @Test func theQueueKeepsTheNewestSixtyFour() throws {
        let silent = try RawBackend(reply: "", closeAfter: false)
        let rig = try Rig(port: silent.port, timeoutMillis: 5_000)
        defer { rig.stop() }
        let (pending, dropped) = rig.onLoop { [webhook = rig.webhook!] in
            for i in 0..<70 { webhook.post("{\"n\": \(i)}") }
            return (webhook.pending, webhook.dropped)
        }
        #expect(pending == AlertWebhook.maxQueued)
        #expect(dropped == 6)
    }

    @Test func urlsAreCheckedAtLoad() throws {
        #expect(throws: Never.self) { try WebhookTarget.parse("http://127.0.0.1:9000/alerts").get() }
        let t = try? WebhookTarget.parse("http://localhost/").get()
        #expect(t?.host == "localhost" && t?.path == "/" && t?.address.description.hasSuffix(":80") == true)
        #expect(try WebhookTarget.parse("http://127.0.0.1:9000").get().path == "/")
        for bad in ["https://a.example/x", "ftp://x/", "127.0.0.1:9000/x", "http:///x", "http://user@h:1/"] {
            #expect(throws: ConfigMessage.self, "\(bad)") { try WebhookTarget.parse(bad).get() }
        }
    }
}

/// A value handed back from the loop thread.
final class LoopBox<T>: @unchecked Sendable {
    var value: T?
    let done = DispatchSemaphore(value: 0)
}
