import SluiceBuffers
import Testing

@Suite struct ByteBufferTests {
    func text(_ b: ByteBuffer) -> String { String(decoding: b.readable, as: UTF8.self) }

    @Test func appendsNumbersInDecimalAndHex() {
        let b = ByteBuffer(capacity: 8)
        b.append(decimal: 0)
        b.append(" ")
        b.append(decimal: 1_234_567)
        b.append(" ")
        b.append(hex: 0)
        b.append(" ")
        b.append(hex: 0xbeef)
        #expect(text(b) == "0 1234567 0 beef")
    }

    @Test func reserveCompactsBeforeGrowing() {
        let b = ByteBuffer(capacity: 16)
        b.append("0123456789ab")
        b.consume(10)
        b.reserve(12)  // 2 readable + 12 fit in 16 once compacted
        #expect(b.capacity == 16)
        #expect(b.readIndex == 0)
        #expect(text(b) == "ab")
        b.reserve(32)
        #expect(b.capacity >= 34)
        #expect(text(b) == "ab")
    }

    @Test func consumingEverythingRewindsToTheStart() {
        let b = ByteBuffer(capacity: 16)
        b.append("hello")
        b.consume(5)
        #expect(b.isEmpty)
        #expect(b.writeIndex == 0)
        #expect(b.writableCount == 16)
    }
}
