//! The API's contract, route by route and status by status, over real HTTP: each check of
//! `common/api_suite.rs` on a fresh server, then the whole suite on one shared server (as
//! the server example runs it against every SQL store and token backend).
mod common;

use common::api_server;
use common::api_suite::*;

macro_rules! each_check {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let server = api_server().await;
            let target = server.target();
            common::api_suite::$name(&target).await;
        }
    )*};
}

each_check![
    register_creates_a_user_with_201,
    register_refuses_a_taken_email_in_any_case_with_409,
    register_refuses_a_weak_password_with_every_message,
    register_refuses_a_malformed_email_with_422,
    login_returns_a_bearer_pair_and_the_user,
    login_failures_are_one_indistinguishable_401,
    login_lockout_is_429_with_retry_after,
    me_returns_the_user_without_any_hash,
    me_without_a_token_is_401_with_a_bare_challenge,
    me_with_a_bad_token_is_401_invalid_token,
    bearer_scheme_is_case_insensitive,
    query_string_tokens_are_ignored,
    refresh_rotates_the_pair,
    refresh_reuse_revokes_the_session,
    refresh_refuses_garbage_and_access_tokens,
    expired_tokens_are_401_token_expired,
    logout_ends_the_session_and_the_next_request_is_401,
    logout_works_with_an_expired_access_token,
    logout_without_a_token_is_401,
    logout_all_ends_every_session,
    sessions_list_marks_the_current_one,
    deleting_a_session_works_only_for_the_callers_own,
    password_change_keeps_this_session_and_ends_the_others,
    password_change_refuses_wrong_current_and_weak_new,
    password_reset_flow_sets_a_new_password_and_ends_sessions,
    password_reset_confirm_refuses_bad_tokens,
    verification_flow_marks_the_user_verified,
    verification_needs_a_token_and_a_valid_link,
    bodies_are_checked_with_json_errors,
    openapi_document_lists_every_route,
    interleaved_requests_never_mix_identities,
    hostile_authorization_headers_are_400_or_401_without_panic,
    storage_outage_is_503_and_never_authenticates,
    password_reset_answers_the_same_for_every_address,
];

#[test]
fn every_check_of_the_suite_has_its_own_test_here() {
    let here = include_str!("api_contract_over_http.rs");
    for (name, _) in checks() {
        assert!(
            here.contains(&format!("    {name},\n")),
            "{name} is not run on its own"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_on_one_shared_server() {
    let server = api_server().await;
    run_all(server.target()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_with_uuid_user_ids() {
    let server = common::api_server_on(auth_facade::IdKind::Uuid).await;
    run_all(server.target()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_with_jwt_access_tokens() {
    let jwt = auth_facade::JwtConfig::hs256("jwt-t3st-0nly-5b8d4f6a0c3e7b1d9f2a5c8e9c2f7a1e")
        .build()
        .unwrap();
    let server = common::api_server_built(auth_facade::IdKind::Integer, |b| b.jwt(jwt)).await;
    // The access tokens really are JWTs.
    let user = server.user(&common::api_suite::email("jwt")).await;
    let login = server
        .auth
        .login(&user.email, common::api_suite::PASSWORD)
        .await
        .unwrap();
    assert_eq!(login.access_token.matches('.').count(), 2);
    run_all(server.target()).await;
}
