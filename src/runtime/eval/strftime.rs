//! glibc's `strftime` in the C locale, for the `ltime`/`utime` converters:
//! the conversions the configuration checker accepts, with glibc's output
//! (an unknown conversion such as `%+` is copied as is).

use crate::runtime::calendar::{Civil, is_leap};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn day_name(tm: &Civil) -> &'static str {
    DAYS[tm.weekday as usize % 7]
}

fn month_name(tm: &Civil) -> &'static str {
    MONTHS[(tm.month as usize + 11) % 12]
}

/// glibc's `iso_week_days`: days from the Monday of ISO week 1 to `yday`.
fn iso_week_days(yday: i64, wday: i64) -> i64 {
    let big_enough_multiple_of_7 = (366 / 7 + 2) * 7;
    yday - (yday - wday + 4 + big_enough_multiple_of_7) % 7 + 4 - 1
}

/// ISO 8601 week-based year and week number (`%G`, `%V`), as glibc.
fn iso_week(tm: &Civil) -> (i64, u32) {
    let (yday, wday) = (i64::from(tm.yday), i64::from(tm.weekday));
    let year_len = |y: i64| 365 + i64::from(is_leap(y));
    let mut year = tm.year;
    let mut days = iso_week_days(yday, wday);
    if days < 0 {
        year -= 1;
        days = iso_week_days(yday + year_len(year), wday);
    } else {
        let d = iso_week_days(yday - year_len(year), wday);
        if d >= 0 {
            year += 1;
            days = d;
        }
    }
    (year, (days / 7 + 1) as u32)
}

/// Formats `tm` (the broken-down form of `unix`) with a C-locale strftime.
pub(super) fn strftime(format: &str, tm: &Civil, unix: i64) -> Vec<u8> {
    let mut out = String::new();
    let mut chars = format.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // E and O modifiers select alternative forms, identical in the C locale.
        let mut conv = chars.next().map(|(_, c)| c);
        if matches!(conv, Some('E' | 'O')) {
            conv = chars.next().map(|(_, c)| c);
        }
        let hour12 = match tm.hour % 12 {
            0 => 12,
            h => h,
        };
        let am_pm = if tm.hour < 12 { "AM" } else { "PM" };
        match conv {
            Some('a') => out.push_str(&day_name(tm)[..3]),
            Some('A') => out.push_str(day_name(tm)),
            Some('b' | 'h') => out.push_str(&month_name(tm)[..3]),
            Some('B') => out.push_str(month_name(tm)),
            Some('c') => out.push_str(&format!(
                "{} {} {:2} {:02}:{:02}:{:02} {}",
                &day_name(tm)[..3],
                &month_name(tm)[..3],
                tm.day,
                tm.hour,
                tm.minute,
                tm.second,
                tm.year
            )),
            Some('C') => out.push_str(&format!("{:02}", tm.year.div_euclid(100))),
            Some('d') => out.push_str(&format!("{:02}", tm.day)),
            Some('D' | 'x') => out.push_str(&format!(
                "{:02}/{:02}/{:02}",
                tm.month,
                tm.day,
                tm.year.rem_euclid(100)
            )),
            Some('e') => out.push_str(&format!("{:2}", tm.day)),
            Some('F') => out.push_str(&format!("{}-{:02}-{:02}", tm.year, tm.month, tm.day)),
            Some('g') => out.push_str(&format!("{:02}", iso_week(tm).0.rem_euclid(100))),
            Some('G') => out.push_str(&iso_week(tm).0.to_string()),
            Some('H') => out.push_str(&format!("{:02}", tm.hour)),
            Some('I') => out.push_str(&format!("{hour12:02}")),
            Some('j') => out.push_str(&format!("{:03}", tm.yday + 1)),
            Some('k') => out.push_str(&format!("{:2}", tm.hour)),
            Some('l') => out.push_str(&format!("{hour12:2}")),
            Some('m') => out.push_str(&format!("{:02}", tm.month)),
            Some('M') => out.push_str(&format!("{:02}", tm.minute)),
            Some('n') => out.push('\n'),
            Some('p') => out.push_str(am_pm),
            Some('P') => out.push_str(&am_pm.to_ascii_lowercase()),
            Some('r') => out.push_str(&format!(
                "{hour12:02}:{:02}:{:02} {am_pm}",
                tm.minute, tm.second
            )),
            Some('R') => out.push_str(&format!("{:02}:{:02}", tm.hour, tm.minute)),
            Some('s') => out.push_str(&unix.to_string()),
            Some('S') => out.push_str(&format!("{:02}", tm.second)),
            Some('t') => out.push('\t'),
            Some('T' | 'X') => {
                out.push_str(&format!("{:02}:{:02}:{:02}", tm.hour, tm.minute, tm.second))
            }
            Some('u') => out.push_str(&(if tm.weekday == 0 { 7 } else { tm.weekday }).to_string()),
            Some('U') => out.push_str(&format!("{:02}", (tm.yday + 7 - tm.weekday) / 7)),
            Some('V') => out.push_str(&format!("{:02}", iso_week(tm).1)),
            Some('w') => out.push_str(&tm.weekday.to_string()),
            Some('W') => out.push_str(&format!("{:02}", (tm.yday + 7 - (tm.weekday + 6) % 7) / 7)),
            Some('y') => out.push_str(&format!("{:02}", tm.year.rem_euclid(100))),
            Some('Y') => out.push_str(&tm.year.to_string()),
            Some('z') => {
                let sign = if tm.offset < 0 { '-' } else { '+' };
                let off = tm.offset.abs() / 60;
                out.push_str(&format!("{sign}{:02}{:02}", off / 60, off % 60));
            }
            Some('Z') => out.push_str(&tm.zone),
            Some('%') => out.push('%'),
            // glibc copies an unknown conversion, '%' included.
            Some(_) | None => {
                let end = chars.peek().map_or(format.len(), |(i, _)| *i);
                out.push_str(&format[start..end]);
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::calendar::civil_from_unix;

    fn fmt(f: &str, ts: i64) -> String {
        String::from_utf8_lossy(&strftime(f, &civil_from_unix(ts), ts)).into_owned()
    }

    #[test]
    fn conversions_match_glibc() {
        // Expected strings produced by glibc's strftime on gmtime().
        let ts = 86_400 * 40 + 3600 * 13 + 65;
        assert_eq!(
            fmt(
                "%+|%P|%p|%k|%l|%I|%C|%g|%G|%V|%u|%U|%W|%w|%x|%X|%c|%D|%F|%h|%n|%r|%R|%t|%T|%y|%Ey|%Od|%j|%Z|%z|%a|%A|%B|%e|%M|%S|%H|%m|%d|%Y|%%|%EY|%Ec|%Q",
                ts
            ),
            "%+|pm|PM|13| 1|01|19|70|1970|07|2|06|06|2|02/10/70|13:01:05|Tue Feb 10 13:01:05 1970|02/10/70|1970-02-10|Feb|\n|01:01:05 PM|13:01|\t|13:01:05|70|70|10|041|GMT|+0000|Tue|Tuesday|February|10|01|05|13|02|10|1970|%|1970|Tue Feb 10 13:01:05 1970|%Q"
        );
        assert_eq!(fmt("%s", ts), ts.to_string());
    }

    #[test]
    fn week_numbers_match_glibc() {
        let cases = [
            (0, "1970-01-01 Thu 1970 70 01 00 00 4 4 001"),
            (3, "1970-01-04 Sun 1970 70 01 01 00 7 0 004"),
            (4, "1970-01-05 Mon 1970 70 02 01 01 1 1 005"),
            (364, "1970-12-31 Thu 1970 70 53 52 52 4 4 365"),
            (365, "1971-01-01 Fri 1970 70 53 00 00 5 5 001"),
            (366, "1971-01-02 Sat 1970 70 53 00 00 6 6 002"),
            (730, "1972-01-01 Sat 1971 71 52 00 00 6 6 001"),
            (731, "1972-01-02 Sun 1971 71 52 01 00 7 0 002"),
            (1095, "1972-12-31 Sun 1972 72 52 53 52 7 0 366"),
            (1460, "1973-12-31 Mon 1974 74 01 52 53 1 1 365"),
            (1461, "1974-01-01 Tue 1974 74 01 00 00 2 2 001"),
            (1825, "1974-12-31 Tue 1975 75 01 52 52 2 2 365"),
            (10000, "1997-05-19 Mon 1997 97 21 20 20 1 1 139"),
            (12053, "2003-01-01 Wed 2003 03 01 00 00 3 3 001"),
        ];
        for (days, want) in cases {
            assert_eq!(
                fmt("%Y-%m-%d %a %G %g %V %U %W %u %w %j", days * 86_400),
                want,
                "day {days}"
            );
        }
    }
}
