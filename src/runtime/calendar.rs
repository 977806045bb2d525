//! Broken-down dates, as libc's `gmtime_r`/`localtime_r` give HAProxy: the
//! civil calendar from a Unix timestamp, and the process's local time zone
//! (the `TZ` variable, else `/etc/localtime`, read once like `tzset`).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// A broken-down date (`struct tm`), with the UTC offset and zone
/// abbreviation that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// 0-based day of the year.
    pub yday: u32,
    /// Seconds east of UTC.
    pub offset: i64,
    /// Zone abbreviation (`GMT` for [`civil_from_unix`], as glibc's gmtime).
    pub zone: String,
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub(crate) fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The UTC broken-down date of a Unix timestamp (`gmtime_r`).
pub(crate) fn civil_from_unix(ts: i64) -> Civil {
    civil_with_offset(ts, 0, "GMT".to_string())
}

fn civil_with_offset(ts: i64, offset: i64, zone: String) -> Civil {
    let local = ts.saturating_add(offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_extra = u32::from(month > 2 && is_leap(year));
    let yday = CUMULATIVE[(month - 1) as usize % 12] + leap_extra + day - 1;
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs / 60 % 60) as u32,
        second: (secs % 60) as u32,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
        offset,
        zone,
    }
}

/// The process's time zone, loaded once.
fn local_zone() -> Option<&'static tz::TimeZone> {
    static ZONE: OnceLock<Option<tz::TimeZone>> = OnceLock::new();
    ZONE.get_or_init(|| {
        match std::env::var("TZ") {
            Ok(tz) if !tz.is_empty() => tz::TimeZone::from_posix_tz(&tz).ok(),
            _ => tz::TimeZone::local().ok(),
        }
        .or_else(|| Some(tz::TimeZone::utc()))
    })
    .as_ref()
}

/// The local broken-down date of a Unix timestamp (`localtime_r`).
pub(crate) fn local_from_unix(ts: i64) -> Civil {
    let ltt = local_zone().and_then(|z| z.find_local_time_type(ts).ok());
    match ltt {
        Some(t) => civil_with_offset(
            ts,
            i64::from(t.ut_offset()),
            t.time_zone_designation().to_string(),
        ),
        None => civil_with_offset(ts, 0, "UTC".to_string()),
    }
}

/// Seconds and microseconds since the epoch (negative dates clamp to 0).
pub(crate) fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(_) => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_gmtime() {
        let c = civil_from_unix(86_400 * 40 + 3600 * 13 + 65);
        assert_eq!((c.year, c.month, c.day), (1970, 2, 10));
        assert_eq!((c.hour, c.minute, c.second), (13, 1, 5));
        assert_eq!((c.weekday, c.yday), (2, 40));
        let c = civil_from_unix(86_400 * 1095);
        assert_eq!(
            (c.year, c.month, c.day, c.yday, c.weekday),
            (1972, 12, 31, 365, 0)
        );
        let c = civil_from_unix(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day, c.yday), (2000, 2, 29, 59));
        let c = civil_from_unix(-1);
        assert_eq!((c.year, c.month, c.day, c.hour), (1969, 12, 31, 23));
        assert_eq!(c.zone, "GMT");
    }

    #[test]
    fn local_time_uses_the_process_zone() {
        // Whatever the zone, local = UTC + offset.
        let l = local_from_unix(1_000_000_000);
        let u = civil_from_unix(1_000_000_000 + l.offset);
        assert_eq!(
            (l.year, l.month, l.day, l.hour),
            (u.year, u.month, u.day, u.hour)
        );
        assert!(!l.zone.is_empty());
    }
}
