//! A browser, as far as an OAuth flow needs one: follows redirects by hand,
//! keeps cookies, and fills in the authorization server's login and consent
//! forms with plain HTTP.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub struct Browser {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// Where a flow ended up.
#[derive(Debug)]
pub struct Landing {
    pub url: url::Url,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(SET_COOKIE) {
            if let Some((pair, _)) =
                v.to_str().unwrap_or_default().split_once(';').or(Some((v.to_str().unwrap_or_default(), "")))
                && let Some((k, val)) = pair.split_once('=')
            {
                self.cookies.insert(k.trim().to_owned(), val.trim().to_owned());
            }
        }
    }

    async fn request(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, Option<String>, String) {
        let mut req = self.client.request(method, url).header(COOKIE, self.cookie_header());
        if let Some(f) = form {
            req = req.form(f);
        }
        let res = req.send().await.unwrap();
        self.keep_cookies(&res);
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| url::Url::parse(url).unwrap().join(l).unwrap().to_string());
        (status, location, res.text().await.unwrap_or_default())
    }

    /// Signs in as `login` at the authorization server and approves (or, with
    /// `approve = false`, aborts), stopping at the first redirect that leaves it:
    /// the client's callback URL, not yet requested.
    pub async fn authorize(&mut self, auth_url: &str, login: &str, approve: bool) -> Landing {
        let server = url::Url::parse(auth_url).unwrap();
        let mut next = auth_url.to_owned();
        for _ in 0..20 {
            let here = url::Url::parse(&next).unwrap();
            if here.origin() != server.origin() {
                return Landing { url: here };
            }
            let (status, location, body) = self.request(reqwest::Method::GET, &next, None).await;
            if let Some(l) = location {
                next = l;
                continue;
            }
            assert_eq!(status, 200, "unexpected answer at {next}: {body}");
            if !approve {
                let (_, location, _) = self
                    .request(reqwest::Method::GET, &format!("{}/abort", here.as_str().trim_end_matches('/')), None)
                    .await;
                next = location.expect("abort redirects");
                continue;
            }
            let form: &[(&str, &str)] = if body.contains("value=\"login\"") {
                &[("prompt", "login"), ("login", login), ("password", "secret")]
            } else {
                &[("prompt", "consent")]
            };
            let (_, location, body) = self.request(reqwest::Method::POST, &next, Some(form)).await;
            next = location.unwrap_or_else(|| panic!("the form at {here} did not redirect: {body}"));
        }
        panic!("the authorization flow did not finish in 20 steps");
    }
}
