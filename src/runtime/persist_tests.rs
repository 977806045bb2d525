#![allow(clippy::expect_used, clippy::unwrap_used)]
use super::*;

fn rt(mode: CookieMode, indirect: bool) -> CookieRt {
    CookieRt {
        cfg: CookiePersist {
            name: "SRV".into(),
            mode,
            indirect,
            ..CookiePersist::default()
        },
        force_down: false,
        values: vec![Some("s1".into()), Some("s2".into()), None],
    }
}

fn req(c: &CookieRt, cookie: &str, up: &dyn Fn(usize) -> bool) -> (ReqCookie, Vec<String>) {
    let mut h = HeaderMap::new();
    h.append(COOKIE, HeaderValue::from_str(cookie).unwrap());
    let r = c.request(&mut h, up, 1_700_000_000);
    let left = h
        .get_all(COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (r, left)
}

#[test]
fn xxh64_matches_the_reference_vectors() {
    assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
    assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
    assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
}

#[test]
fn dates_round_trip_through_base64() {
    let v = (1_700_000_003u32) >> 2;
    assert_eq!(b64tos30(s30tob64(v).as_bytes()), Some(v & 0x3fff_ffff));
    assert_eq!(s30tob64(0), "AAAAA");
}

#[test]
fn insert_indirect_removes_the_cookie_from_the_request() {
    let c = rt(CookieMode::Insert, true);
    let all_up = |_: usize| true;
    let (r, left) = req(&c, "a=1; SRV=s2; b=2", &all_up);
    assert_eq!(r.target, Some(1));
    assert_eq!(r.state, Some(CookieState::Valid));
    assert_eq!(left, vec!["a=1; b=2"]);
    let (_, left) = req(&c, "SRV=s1", &all_up);
    assert!(left.is_empty());
    let (_, left) = req(&c, "SRV=s1;b=2", &all_up);
    assert_eq!(left, vec!["b=2"]);
    let (_, left) = req(&c, "a=1; SRV=s1", &all_up);
    assert_eq!(left, vec!["a=1"]);
    let (r, left) = req(&c, "SRV=zz; x = 3", &all_up);
    assert_eq!((r.target, r.state), (None, Some(CookieState::Invalid)));
    assert_eq!(left, vec!["x=3"]);
}

#[test]
fn a_down_server_is_skipped_unless_option_persist() {
    let mut c = rt(CookieMode::Insert, false);
    let first_down = |i: usize| i != 0;
    let (r, left) = req(&c, "SRV=s1", &first_down);
    assert_eq!((r.target, r.state), (None, Some(CookieState::Down)));
    assert_eq!(left, vec!["SRV=s1"]);
    c.force_down = true;
    let (r, _) = req(&c, "SRV=s1", &first_down);
    assert_eq!((r.target, r.state), (Some(0), Some(CookieState::Down)));
}

#[test]
fn prefix_mode_strips_the_server_id() {
    let c = rt(CookieMode::Prefix, false);
    let (r, left) = req(&c, "SRV=s2~abc; z=1", &|_| true);
    assert_eq!(r.target, Some(1));
    assert_eq!(left, vec!["SRV=abc; z=1"]);
}

#[test]
fn set_cookie_is_rewritten_prefixed_or_inserted() {
    let r = ReqCookie::default();
    let mut h = HeaderMap::new();
    h.append(SET_COOKIE, HeaderValue::from_static("SRV=app; path=/"));
    let sck = rt(CookieMode::Rewrite, false).response(
        &r,
        Some(1),
        false,
        &Method::GET,
        StatusCode::OK,
        &mut h,
        0,
    );
    assert_eq!(sck, SetCookieState::Rewritten);
    assert_eq!(h.get(SET_COOKIE).unwrap(), "SRV=s2; path=/");
    let mut h = HeaderMap::new();
    h.append(SET_COOKIE, HeaderValue::from_static("SRV=app"));
    rt(CookieMode::Prefix, false).response(
        &r,
        Some(0),
        false,
        &Method::GET,
        StatusCode::OK,
        &mut h,
        0,
    );
    assert_eq!(h.get(SET_COOKIE).unwrap(), "SRV=s1~app");
    let mut c = rt(CookieMode::Insert, true);
    c.cfg.nocache = true;
    c.cfg.httponly = true;
    c.cfg.secure = true;
    c.cfg.domains = vec![".a.com".into(), ".b.com".into()];
    c.cfg.attrs = vec!["SameSite=Lax".into()];
    let mut h = HeaderMap::new();
    h.append(SET_COOKIE, HeaderValue::from_static("SRV=mine"));
    h.append(http::header::ETAG, HeaderValue::from_static("\"v1\""));
    let sck = c.response(&r, Some(0), false, &Method::GET, StatusCode::OK, &mut h, 0);
    assert_eq!(sck, SetCookieState::Inserted);
    let all: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
    assert_eq!(
        all,
        vec!["SRV=s1; path=/; domain=.a.com; domain=.b.com; HttpOnly; Secure; SameSite=Lax"]
    );
    assert_eq!(h.get(CACHE_CONTROL).unwrap(), "private");
    // A server without a cookie value gets a removal request.
    let mut h = HeaderMap::new();
    rt(CookieMode::Insert, false).response(
        &r,
        Some(2),
        false,
        &Method::GET,
        StatusCode::OK,
        &mut h,
        0,
    );
    assert_eq!(
        h.get(SET_COOKIE).unwrap(),
        "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"
    );
}

#[test]
fn dynamic_cookies_are_haproxys() {
    // Values haproxy 2.6.12 inserted for these servers and this key.
    let key = "Pysmv9tasDUMHPhSQdAczMrn";
    assert_eq!(
        dynamic_cookie(key, "127.0.0.1:19001".parse().unwrap()),
        "e6186bf6e30d442a"
    );
    assert_eq!(
        dynamic_cookie(key, "127.0.0.1:19002".parse().unwrap()),
        "39ff6951a1417352"
    );
}

#[test]
fn maxidle_and_maxlife_date_the_inserted_cookie() {
    let mut c = rt(CookieMode::Insert, false);
    c.cfg.maxidle = 1800;
    c.cfg.maxlife = 28800;
    let now = 1_700_000_000;
    let r = ReqCookie::default();
    let mut h = HeaderMap::new();
    c.response(
        &r,
        Some(0),
        false,
        &Method::GET,
        StatusCode::OK,
        &mut h,
        now,
    );
    let d = s30tob64(((now + 3) >> 2) as u32);
    assert_eq!(
        h.get(SET_COOKIE).unwrap().to_str().unwrap(),
        format!("SRV=s1|{d}|{d}; path=/")
    );
    // Presented back: valid, dates read.
    let (r, _) = req(&c, &format!("SRV=s1|{d}|{d}"), &|_| true);
    assert_eq!((r.target, r.state), (Some(0), Some(CookieState::Valid)));
    // Idle for too long: expired, and balanced.
    let old = s30tob64(((now - 4000) >> 2) as u32);
    let (r, _) = req(&c, &format!("SRV=s1|{old}|{d}"), &|_| true);
    assert_eq!((r.target, r.state), (None, Some(CookieState::Expired)));
    let (r, _) = req(&c, &format!("SRV=s1|{d}|{old}"), &|_| true);
    assert_eq!(r.state, Some(CookieState::Valid));
    let ancient = s30tob64(((now - 30000) >> 2) as u32);
    let (r, _) = req(&c, &format!("SRV=s1|{d}|{ancient}"), &|_| true);
    assert_eq!((r.target, r.state), (None, Some(CookieState::Old)));
}
