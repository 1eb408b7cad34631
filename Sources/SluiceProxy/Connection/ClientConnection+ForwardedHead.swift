import Glibc
import SluiceBalancing
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientConnection {
    /// Serializes the request head as it goes to the backend (`ForwardedRequestHead`) into
    /// `forwardedHead`, and notes where the access log finds method, path and request id.
    func writeForwardedHead(_ p: UnsafeRawPointer) {
        var w = ForwardedRequestHead()
        let https = worker.isTLS(listener)
        clientIP.withUnsafeBytes { ip in
            w.write(head, p, into: forwardedHead, clientIP: ip, https: https) { worker.appendNewRequestID(to: $0) }
        }
        logMethodEnd = w.methodEnd
        logPathStart = w.pathStart
        logPathEnd = w.pathEnd
        requestIdStart = w.requestIdStart
        requestIdEnd = w.requestIdEnd
    }
}
