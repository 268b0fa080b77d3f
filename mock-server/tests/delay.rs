//! A charge is settled only once the answer is due, after any delay an image asks for: a
//! client that gives up during the delay is not charged.

use std::time::Duration;

use base64::Engine;
use contract_tests::image::{png, Scene};
use contract_tests::{eop_date, Signer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HAT: &str = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect";

/// A hard-hat request signed with the default account, as raw HTTP/1.1.
fn signed_request(clock_ms: i64, body: &str) -> String {
    let date = eop_date::format(clock_ms.div_euclid(1000));
    let signed = Signer::new("mock-ak", "mock-sk").sign(
        &date,
        &[("ctyun-eop-request-id", "r1"), ("eop-date", &date)],
        "",
        body.as_bytes(),
    );
    format!(
        "POST {HAT} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         ctyun-eop-request-id: r1\r\neop-date: {date}\r\nappkey: mock-appkey\r\n\
         eop-authorization: {}\r\n\r\n{body}",
        body.len(),
        signed.authorization
    )
}

async fn used_calls(addr: std::net::SocketAddr) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = "GET /__mock/apps/mock-appkey/usage HTTP/1.1\r\nhost: mock\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let body = response.split_once("\r\n\r\n").expect("a body").1;
    let usage: serde_json::Value = serde_json::from_str(body).expect("json");
    usage["apis"]["hat"]["packages"][0]["used"].clone()
}

#[tokio::test]
async fn a_client_that_gives_up_during_the_delay_is_not_charged() {
    let server = mock_server::start(mock_server::Config::default(), ([127, 0, 0, 1], 0).into()).await.expect("start");
    let slow = png(&Scene { delay_ms: Some(1500), ..Scene::default() }, 64, 48).expect("image");
    let body = format!(r#"{{"image":"{}"}}"#, base64::engine::general_purpose::STANDARD.encode(slow));
    let request = signed_request(server.clock().now_ms(), &body);

    let mut abandoned = TcpStream::connect(server.addr()).await.expect("connect");
    abandoned.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(abandoned);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(used_calls(server.addr()).await, 0, "the abandoned call was charged");

    let mut patient = TcpStream::connect(server.addr()).await.expect("connect");
    patient
        .write_all(request.replace("host: mock", "host: mock\r\nconnection: close").as_bytes())
        .await
        .expect("write");
    let mut response = String::new();
    patient.read_to_string(&mut response).await.expect("read");
    assert!(response.contains(r#""code":0"#), "{response}");
    assert_eq!(used_calls(server.addr()).await, 1, "a call answered is charged");
    server.shutdown().await;
}
