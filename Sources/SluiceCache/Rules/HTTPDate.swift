/// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete rfc850 and asctime forms when parsing.
///
/// Values are seconds since 1970-01-01 00:00:00 UTC. Parsing is pure and allocation-free
/// (per hit: If-Modified-Since, If-Range). Day and month names are matched ignoring case;
/// the weekday must be a real day name but is not checked against the date; fields are
/// range-checked (day within its month, leap years, second 60 allowed for a leap second).
/// rfc850's two-digit year is 19yy from 70 to 99 and 20yy below 70: a fixed pivot rather
/// than §5.6.7's "more than 50 years in the future", so the parse does not read a clock
/// (the two differ only for years 2070-2076 written with two digits).
public enum HTTPDate {
    private static let months: StaticString = "janfebmaraprmayjunjulaugsepoctnovdec"
    private static let days: StaticString = "monday tuesday wednesday thursday friday saturday sunday "
    private static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
    private static let dayNames: StaticString = "ThuFriSatSunMonTueWed"  // 1970-01-01 was a Thursday

    /// Parses `start..<end` of `p` (surrounding whitespace allowed); nil when not an HTTP-date.
    public static func parse(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int64? {
        let t = CacheBytes.trimmed(p, start, end)
        var r = Reader(p: p, i: t.start, end: t.end)
        guard let comma = r.weekday() else { return nil }
        if comma == 3 {
            // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
            guard r.take(","), r.take(" "), let d = r.digits(2), r.take(" "), let m = r.month(), r.take(" "),
                let y = r.digits(4), r.take(" "), let time = r.time(), r.take(" "), r.takeGMT(), r.atEnd
            else { return nil }
            return seconds(y, m, d, time)
        }
        if comma == 0 {
            // asctime: "Sun Nov  6 08:49:37 1994"
            guard r.take(" "), let m = r.month(), r.take(" ") else { return nil }
            let d: Int?
            if r.take(" ") { d = r.digits(1) } else { d = r.digits(2) }
            guard let d, r.take(" "), let time = r.time(), r.take(" "), let y = r.digits(4), r.atEnd else { return nil }
            return seconds(y, m, d, time)
        }
        // rfc850: "Sunday, 06-Nov-94 08:49:37 GMT"
        guard r.take(","), r.take(" "), let d = r.digits(2), r.take("-"), let m = r.month(), r.take("-"),
            let yy = r.digits(2), r.take(" "), let time = r.time(), r.take(" "), r.takeGMT(), r.atEnd
        else { return nil }
        return seconds(yy < 70 ? 2000 + yy : 1900 + yy, m, d, time)
    }

    /// Parses a date given as text (tests and configuration).
    public static func parse(_ text: String) -> Int64? {
        var s = text
        return s.withUTF8 { b in
            guard let base = b.baseAddress else { return nil }
            return parse(UnsafeRawPointer(base), 0, b.count)
        }
    }

    /// Appends the IMF-fixdate of `seconds`, exactly 29 bytes, to `out`.
    ///
    /// No allocation when `out` has 29 bytes of spare capacity. Times outside years
    /// 0001-9999 are clamped to them.
    public static func format(_ seconds: Int64, into out: inout [UInt8]) {
        let s = min(max(seconds, -62_135_596_800), 253_402_300_799)
        let dayNumber = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let secondOfDay = Int(s - dayNumber * 86_400)
        let (y, m, d) = civil(dayNumber)
        let weekday = Int(((dayNumber % 7) + 7) % 7)
        let names = dayNames.utf8Start
        out.append(names[weekday * 3])
        out.append(names[weekday * 3 + 1])
        out.append(names[weekday * 3 + 2])
        out.append(UInt8(ascii: ","))
        out.append(UInt8(ascii: " "))
        append(d, width: 2, &out)
        out.append(UInt8(ascii: " "))
        let months = monthNames.utf8Start
        out.append(months[(m - 1) * 3])
        out.append(months[(m - 1) * 3 + 1])
        out.append(months[(m - 1) * 3 + 2])
        out.append(UInt8(ascii: " "))
        append(y, width: 4, &out)
        out.append(UInt8(ascii: " "))
        append(secondOfDay / 3600, width: 2, &out)
        out.append(UInt8(ascii: ":"))
        append(secondOfDay / 60 % 60, width: 2, &out)
        out.append(UInt8(ascii: ":"))
        append(secondOfDay % 60, width: 2, &out)
        out.append(UInt8(ascii: " "))
        out.append(UInt8(ascii: "G"))
        out.append(UInt8(ascii: "M"))
        out.append(UInt8(ascii: "T"))
    }

    private static func append(_ v: Int, width: Int, _ out: inout [UInt8]) {
        var div = 1
        for _ in 1..<width { div *= 10 }
        while div > 0 {
            out.append(UInt8(48 + v / div % 10))
            div /= 10
        }
    }

    /// Seconds since the epoch of a validated calendar date and time of day.
    private static func seconds(_ y: Int, _ m: Int, _ d: Int, _ time: Int) -> Int64? {
        guard y >= 1, d >= 1, d <= daysIn(month: m, year: y) else { return nil }
        return daysFromCivil(y, m, d) * 86_400 + Int64(time)
    }

    private static func daysIn(month m: Int, year y: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(_ year: Int, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int64(era * 146_097 + doe - 719_468)
    }

    /// The date of a day number since 1970-01-01 (inverse of `daysFromCivil`).
    private static func civil(_ dayNumber: Int64) -> (year: Int, month: Int, day: Int) {
        let z = Int(dayNumber) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// A cursor over the date's bytes.
    private struct Reader {
        let p: UnsafeRawPointer
        var i: Int
        let end: Int

        var atEnd: Bool { i == end }

        mutating func take(_ c: Unicode.Scalar) -> Bool {
            guard i < end, CacheBytes.byte(p, i) == UInt8(ascii: c) else { return false }
            i += 1
            return true
        }

        mutating func takeGMT() -> Bool { take("G") && take("M") && take("T") }

        /// Exactly `n` digits.
        mutating func digits(_ n: Int) -> Int? {
            guard end - i >= n else { return nil }
            var v = 0
            for k in 0..<n {
                let c = CacheBytes.byte(p, i + k)
                guard CacheBytes.isDigit(c) else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += n
            return v
        }

        /// "HH:MM:SS" as seconds of the day.
        mutating func time() -> Int? {
            guard let h = digits(2), h < 24, take(":"), let m = digits(2), m < 60, take(":"), let s = digits(2), s <= 60
            else { return nil }
            return h * 3600 + m * 60 + s
        }

        /// A three-letter month name, 1...12.
        mutating func month() -> Int? {
            guard end - i >= 3 else { return nil }
            let names = HTTPDate.months.utf8Start
            let a = CacheBytes.lower(CacheBytes.byte(p, i))
            let b = CacheBytes.lower(CacheBytes.byte(p, i + 1))
            let c = CacheBytes.lower(CacheBytes.byte(p, i + 2))
            for k in 0..<12 where names[k * 3] == a && names[k * 3 + 1] == b && names[k * 3 + 2] == c {
                i += 3
                return k + 1
            }
            return nil
        }

        /// A day name: 3 when it is the short form, its length when it is the long form
        /// followed by a comma (rfc850), 0 when short and not followed by a comma (asctime).
        mutating func weekday() -> Int? {
            var n = 0
            while i + n < end, CacheBytes.lower(CacheBytes.byte(p, i + n)) >= UInt8(ascii: "a"),
                CacheBytes.lower(CacheBytes.byte(p, i + n)) <= UInt8(ascii: "z")
            {
                n += 1
            }
            guard n >= 3, isDayName(n) else { return nil }
            i += n
            let comma = i < end && CacheBytes.byte(p, i) == UInt8(ascii: ",")
            if n == 3 { return comma ? 3 : 0 }
            return comma ? n : nil
        }

        /// Are the `n` letters at `i` a short ("sun") or long ("sunday") day name?
        private func isDayName(_ n: Int) -> Bool {
            let list = HTTPDate.days.utf8Start
            let count = HTTPDate.days.utf8CodeUnitCount
            var s = 0
            while s < count {
                var e = s
                while list[e] != UInt8(ascii: " ") { e += 1 }
                if n == 3 || n == e - s {
                    var same = true
                    for k in 0..<n where CacheBytes.lower(CacheBytes.byte(p, i + k)) != list[s + k] {
                        same = false
                        break
                    }
                    if same { return true }
                }
                s = e + 1
            }
            return false
        }
    }
}
