//! The client side: a cookie-keeping client that fills in the mock's sign-in
//! form like a person would, and readers of the answers (location, cookies,
//! query and fragment parameters, the sidecar's sealed cookies).

use super::*;

/// A client that keeps cookies and does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A client without cookies that does not follow redirects.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Navigates to `path` like a browser (Accept: text/html); returns the response.
pub async fn navigate(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

/// Hidden inputs of the mock's sign-in form.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for part in html.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            part.find(&key).map(|i| {
                let rest = &part[i + key.len()..];
                html_escape::decode_html_entities(&rest[..rest.find('"').unwrap()]).into_owned()
            })
        };
        if attr("type").as_deref() == Some("hidden") {
            if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                fields.push((n, v));
            }
        }
    }
    fields
}

/// From the IdP authorize URL to the redirect back to the sidecar's callback:
/// the mock's form is fetched and submitted with `username` / `password`.
/// Returns the mock's answer to the form post (a 302 to the callback on success).
pub async fn submit_login(
    client: &reqwest::Client,
    authorize_url: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let r = client.get(authorize_url).send().await.unwrap();
    assert_eq!(
        r.status(),
        302,
        "authorize should redirect to the login page"
    );
    let login_url = location(&r);
    let login_url = if login_url.starts_with('/') {
        let base = url::Url::parse(authorize_url).unwrap();
        base.join(&login_url).unwrap().to_string()
    } else {
        login_url
    };
    let page = client
        .get(&login_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut fields = form_fields(&page);
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), password.into()));
    let post = url::Url::parse(&login_url).unwrap().join("/login").unwrap();
    client.post(post).form(&fields).send().await.unwrap()
}

/// The whole sign-in of a navigation to `path`; returns the sidecar's answer to
/// the callback (a 302 back to `path` on success).
pub async fn sign_in_as(
    stack: &Stack,
    client: &reqwest::Client,
    path: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let r = navigate(client, &stack.url(path)).await;
    assert_eq!(
        r.status(),
        302,
        "a navigation without a session goes to the IdP"
    );
    let to_idp = location(&r);
    let r = submit_login(client, &to_idp, username, password).await;
    assert_eq!(r.status(), 302, "the mock accepts the password");
    let callback = location(&r);
    assert!(
        callback.starts_with(&stack.base),
        "the IdP returns to the sidecar: {callback}"
    );
    client.get(&callback).send().await.unwrap()
}

/// Signs `alice` in at `/` and returns her client.
pub async fn signed_in(stack: &Stack) -> reqwest::Client {
    let client = browser();
    let r = sign_in_as(stack, &client, "/", "alice", "alice-password").await;
    assert_eq!(r.status(), 302, "callback should redirect back");
    client
}

/// A cookie-keeping client (no redirects) whose jar the test can read and plant cookies in.
pub fn browser_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(Arc::clone(&jar))
        .redirect(Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// The `(name, value)` cookies the jar would send to `url`.
pub fn jar_cookies(jar: &reqwest::cookie::Jar, url: &str) -> Vec<(String, String)> {
    use reqwest::cookie::CookieStore;
    let Some(header) = jar.cookies(&url::Url::parse(url).unwrap()) else {
        return Vec::new();
    };
    header
        .to_str()
        .unwrap()
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Every `Set-Cookie` value of a response.
pub fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The query parameters of a URL (first value wins).
pub fn query_map(url: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in url::Url::parse(url).unwrap().query_pairs() {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// The fragment parameters of a URL (an implicit-flow answer; first value wins).
pub fn fragment_map(url: &str) -> HashMap<String, String> {
    let parsed = url::Url::parse(url).unwrap();
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(parsed.fragment().unwrap_or_default().as_bytes()) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// The sidecar's cookie sealer for [`COOKIE_SECRET`], to open or forge cookies.
pub fn test_codec(secure: bool) -> cognito_sidecar::session::cookie::CookieCodec {
    use cognito_sidecar::config::CookieConfig;
    cognito_sidecar::session::cookie::CookieCodec::new(&CookieConfig {
        name: "_cognito_sidecar".into(),
        secrets: vec![cognito_sidecar::secret::Secret::new(
            COOKIE_SECRET.as_bytes().to_vec(),
        )],
        secure,
        domain: None,
    })
}

/// The mock's sign-in form reached from an authorize URL, not yet submitted.
pub struct LoginForm {
    pub post: url::Url,
    pub fields: Vec<(String, String)>,
}

/// Follows the authorize URL to the mock's form and reads it (no hosted session yet).
pub async fn open_login_form(client: &reqwest::Client, authorize_url: &str) -> LoginForm {
    let r = client.get(authorize_url).send().await.unwrap();
    assert_eq!(r.status(), 302, "authorize should redirect to the form");
    let login_url = url::Url::parse(authorize_url)
        .unwrap()
        .join(&location(&r))
        .unwrap();
    assert_eq!(login_url.path(), "/login", "authorize shows the form");
    let page = client.get(login_url.clone()).send().await.unwrap();
    let fields = form_fields(&page.text().await.unwrap());
    LoginForm {
        post: login_url.join("/login").unwrap(),
        fields,
    }
}

/// Posts a form read by [`open_login_form`] with these credentials.
pub async fn post_login_form(
    client: &reqwest::Client,
    form: &LoginForm,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut fields = form.fields.clone();
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), password.into()));
    client
        .post(form.post.clone())
        .form(&fields)
        .send()
        .await
        .unwrap()
}
