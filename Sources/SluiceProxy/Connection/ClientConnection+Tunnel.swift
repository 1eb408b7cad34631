import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientConnection {
    /// Tunnel phase (after 101): bytes both ways until either side closes.
    func pumpTunnel() -> Bool {
        guard let up = upstream else {
            close()
            return true
        }
        var progress = false
        // client -> backend
        let upOut = up.ensureOut()
        if let b = channel.inBuf, !b.isEmpty, upOut.readableCount < Self.highWater {
            upOut.append(UnsafeRawPointer(b.readPointer), b.readableCount)
            b.consume(b.readableCount)
            progress = true
        } else if (channel.inBuf?.isEmpty ?? true) && readClient(maxBuffer: BufferPool.standardSize) {
            progress = true
        }
        if up.flush() { progress = true }
        // backend -> client
        if let b = up.channel.inBuf, !b.isEmpty, pendingOut < Self.highWater {
            ensureOut().append(UnsafeRawPointer(b.readPointer), b.readableCount)
            b.consume(b.readableCount)
            progress = true
        } else if !up.hasInput && up.fill() {
            progress = true
        }
        if progress { exchange.progress(now: worker.loop.now) }
        let clientDone = clientEOF && (channel.inBuf?.isEmpty ?? true) && up.pendingOut == 0
        let upstreamDone = (up.eof || up.failed) && !up.hasInput && pendingOut == 0
        if clientDone || upstreamDone {
            close()
            return true
        }
        return progress
    }
}
