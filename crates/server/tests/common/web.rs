//! A signed-in browser for dashboard tests over plain HTTP: the session cookie, the CSRF
//! token its pages carry, form posts, and redirects followed with their flash message.

use super::{TestApp, PASSWORD};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect::Policy, Client, StatusCode};

pub type Form<'a> = &'a [(&'a str, &'a str)];

pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A client that does not follow redirects, so tests see them.
pub fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let kv = v.split(';').next()?;
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| val.to_owned())
    })
}

pub fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token") + 20;
    html[start..start + 64].to_owned()
}

/// Signs in through the login page as a browser would.
pub async fn sign_in(app: &TestApp, username: &str) -> Session {
    let res = client().get(format!("{}/login", app.base)).send().await.unwrap();
    let pre = format!("simfleet_pre={}", set_cookie(&res, "simfleet_pre").unwrap());
    let csrf = csrf_in(&res.text().await.unwrap());
    let res = client()
        .post(format!("{}/login", app.base))
        .header(COOKIE, pre)
        .form(&[("_csrf", csrf.as_str()), ("username", username), ("password", PASSWORD), ("next", "/overview")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = format!("simfleet_session={}", set_cookie(&res, "simfleet_session").unwrap());
    let html = get(app, &cookie, "/overview").await.1;
    Session { csrf: csrf_in(&html), cookie }
}

pub async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let res = client().get(format!("{}{path}", app.base)).header(COOKIE, cookie).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

/// Posts a form with the session's CSRF token.
pub async fn post(app: &TestApp, s: &Session, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push(("_csrf", &s.csrf));
    post_raw(app, s, path, &fields).await
}

/// Posts a form as given (no CSRF token added).
pub async fn post_raw(app: &TestApp, s: &Session, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client().post(format!("{}{path}", app.base)).header(COOKIE, &s.cookie).form(form).send().await.unwrap()
}

/// Follows a redirect after a POST with its flash cookie; returns the path and the page.
pub async fn follow(app: &TestApp, s: &Session, res: reqwest::Response) -> (String, String) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let mut cookie = s.cookie.clone();
    if let Some(flash) = set_cookie(&res, "simfleet_flash") {
        cookie.push_str(&format!("; simfleet_flash={flash}"));
    }
    let (status, html) = get(app, &cookie, &to).await;
    assert_eq!(status, StatusCode::OK, "{to}: {html}");
    (to, html)
}

/// The flash message of a page.
pub fn flash(html: &str) -> String {
    let start = html.find("class=\"flash\" role=\"status\">").expect("a flash message") + 28;
    html[start..].split("</div>").next().unwrap().to_owned()
}
