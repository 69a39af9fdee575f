mod support;

use support::*;

#[tokio::test]
async fn deep_link_round_trip_lands_on_the_exact_page_with_identity_headers() {
    let stack = Stack::start().await;
    let client = browser();
    let r = sign_in_as(
        &stack,
        &client,
        "/reports/2026?year=2026&q=a%20b",
        "alice",
        "alice-password",
    )
    .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/reports/2026?year=2026&q=a%20b");
    let r = navigate(&client, &stack.url("/reports/2026?year=2026&q=a%20b")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "upstream:/reports/2026?year=2026&q=a%20b"
    );
    let seen = stack.upstream.last();
    assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
    assert_eq!(seen.header("x-user-username"), Some("alice"));
    assert_eq!(
        seen.header("x-user-sub"),
        Some("7d8ca528-4931-4254-9273-ea5ee853f271")
    );
    assert_eq!(
        seen.header("x-user-name"),
        Some("Zo%C3%AB %C3%85ngstr%C3%B6m-%C5%81ukasiewicz")
    );
    assert_eq!(
        seen.header("x-user-groups"),
        Some("admins,Engineering%2C Platform")
    );
}
