//! The signing vectors on both sides: the client's signer reproduces each one, and the
//! server accepts each vector's exact request once its clock is set to the vector's date.

use contract_tests::{fixtures, Client, Signer};
use mock_server::Config;

use crate::util::start_with;

#[test]
fn the_client_signer_reproduces_every_vector() {
    let vectors = fixtures::vectors();
    assert!(
        vectors.iter().any(|v| v.signature == "h+H8K5CbPz1DjnbVWA+FEPGbbcEJOzVsi2GQv4LroyM="),
        "the published vector is missing"
    );
    assert!(vectors.iter().filter(|v| v.name.starts_with("manual")).count() >= 3);
    for v in vectors {
        let headers: Vec<(&str, &str)> = v.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let signed = Signer::new(&v.ak, &v.sk).sign(&v.eop_date, &headers, &v.query, v.body.as_bytes());
        assert_eq!(signed.string_to_sign, v.string_to_sign, "{}", v.name);
        assert_eq!(signed.signature, v.signature, "{}", v.name);
        assert_eq!(signed.authorization, v.authorization, "{}", v.name);
    }
}

#[tokio::test]
async fn the_server_accepts_every_vector_as_sent() {
    for v in fixtures::vectors() {
        let appkey = v.headers.iter().find(|(n, _)| n == "appkey").map_or("vector-appkey", |(_, value)| value.as_str());
        let toml = format!(
            "default_account = false\n[[accounts]]\nak = {:?}\nsk = {:?}\n[[accounts.apps]]\nname = \"vector-app\"\nappkey = {appkey:?}\napis = [\"*\"]\n",
            v.ak, v.sk
        );
        let config = Config::from_toml("vectors.toml", &toml).expect("config");
        let date = mock_server::internals::parse_eop_date(&v.eop_date).expect("the vector's date");
        config.clock.set_ms(date * 1000);
        let s = start_with(config).await;
        let client = Client::new(s.handle.addr(), &v.ak, &v.sk, appkey);
        let target =
            if v.query.is_empty() { fixtures::path("hat") } else { format!("{}?{}", fixtures::path("hat"), v.query) };
        let mut call = client.call(&fixtures::path("hat"), v.body.clone().into_bytes());
        call.target = target;
        for (name, value) in &v.headers {
            call = call.header(name, value);
        }
        let call = call.header("appkey", appkey).header("Eop-Authorization", &v.authorization);
        let reply = client.send(call).await;
        // The vectors' bodies are not hat requests: any capability code means the gateway let it through.
        assert!(reply.code() < 10000, "{}: {} {}", v.name, reply.code(), reply.reason());
    }
}
