import SluiceHTTP
import SluiceSystem

extension BackendConnection {
    /// Answers 101 and starts echoing WebSocket frames (RFC 6455).
    func upgradeToWebSocket() {
        var key = ""
        let bytes = headText
        bytes.withUnsafeBytes { raw in
            for f in head.fields {
                let name = String(decoding: raw[Int(f.nameStart)..<Int(f.nameEnd)], as: UTF8.self)
                if name.lowercased() == "sec-websocket-key" {
                    key = String(decoding: raw[Int(f.valueStart)..<Int(f.valueEnd)], as: UTF8.self)
                }
            }
        }
        let accept = SHA1.base64(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        outBuf.append(
            string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(accept)\r\nX-Backend: \(owner.name)\r\n\r\n")
        state = .websocket
    }

    /// Echoes each complete frame back unmasked; a close frame is echoed and ends the connection.
    func websocket() -> Bool {
        var progress = false
        while true {
            let avail = inBuf.readableCount
            if avail >= 2 {
                let p = inBuf.readPointer
                let b0 = p.load(as: UInt8.self)
                let b1 = p.load(fromByteOffset: 1, as: UInt8.self)
                var len = Int(b1 & 0x7F)
                var off = 2
                if len == 126 {
                    guard avail >= 4 else { return read() || progress }
                    len = Int(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: 3, as: UInt8.self))
                    off = 4
                } else if len == 127 {
                    guard avail >= 10 else { return read() || progress }
                    len = 0
                    for k in 2..<10 { len = len << 8 | Int(p.load(fromByteOffset: k, as: UInt8.self)) }
                    off = 10
                }
                let masked = b1 & 0x80 != 0
                let maskOff = off
                if masked { off += 4 }
                if avail >= off + len {
                    var payload = [UInt8](repeating: 0, count: len)
                    for k in 0..<len {
                        var c = p.load(fromByteOffset: off + k, as: UInt8.self)
                        if masked { c ^= p.load(fromByteOffset: maskOff + (k & 3), as: UInt8.self) }
                        payload[k] = c
                    }
                    inBuf.consume(off + len)
                    outBuf.append(b0)
                    if len < 126 {
                        outBuf.append(UInt8(len))
                    } else if len < 65536 {
                        outBuf.append(126)
                        outBuf.append(UInt8(len >> 8))
                        outBuf.append(UInt8(len & 0xFF))
                    } else {
                        outBuf.append(127)
                        for k in (0..<8).reversed() { outBuf.append(UInt8((len >> (8 * k)) & 0xFF)) }
                    }
                    payload.withUnsafeBytes { outBuf.append($0) }
                    progress = true
                    if b0 & 0x0F == 0x8 {
                        state = .closing
                        return true
                    }
                    continue
                }
            }
            if eof {
                close()
                return true
            }
            return read() || progress
        }
    }
}

/// SHA-1, only for the WebSocket handshake's Sec-WebSocket-Accept (RFC 6455 §4.2.2).
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for k in (0..<8).reversed() { m.append(UInt8((bitLength >> (8 * UInt64(k))) & 0xFF)) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                w[i] =
                    UInt32(m[chunk + 4 * i]) << 24 | UInt32(m[chunk + 4 * i + 1]) << 16
                    | UInt32(m[chunk + 4 * i + 2]) << 8 | UInt32(m[chunk + 4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = t
            }
            h[0] &+= a
            h[1] &+= b
            h[2] &+= c
            h[3] &+= d
            h[4] &+= e
        }
        return h.flatMap { v in [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    }

    static func base64(_ message: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let d = digest(message)
        var out = ""
        for i in stride(from: 0, to: d.count, by: 3) {
            let n = Int(d[i]) << 16 | (i + 1 < d.count ? Int(d[i + 1]) << 8 : 0) | (i + 2 < d.count ? Int(d[i + 2]) : 0)
            out.append(table[n >> 18 & 63])
            out.append(table[n >> 12 & 63])
            out.append(i + 1 < d.count ? table[n >> 6 & 63] : "=")
            out.append(i + 2 < d.count ? table[n & 63] : "=")
        }
        return out
    }
}
