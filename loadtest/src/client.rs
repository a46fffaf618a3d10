//! A minimal protocol client over tokio-tungstenite, using the server's own protocol types.

use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use floorwalker::protocol::{decode, Out};

pub type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
pub type Stream = SplitStream<WebSocketStream<MaybeTlsStream<TcpStream>>>;

pub fn ws_url(http: &str, path: &str) -> String {
    format!("{}{}", http.replacen("http", "ws", 1), path)
}

pub async fn connect(url: &str) -> anyhow::Result<(Sink, Stream)> {
    // Nagle off, as browsers have it: small frames leave at once.
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(20),
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await??;
    Ok(ws.split())
}

pub async fn send<T: serde::Serialize>(sink: &mut Sink, frame: &T) -> anyhow::Result<()> {
    sink.send(Message::Text(serde_json::to_string(frame)?.into())).await?;
    Ok(())
}

/// The next protocol frame; `None` when the socket ended (with the close code if any).
pub async fn recv(stream: &mut Stream) -> Result<Out, Option<u16>> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => match decode(t.as_str()) {
                Ok(o) => return Ok(o),
                Err(_) => continue,
            },
            Some(Ok(Message::Close(c))) => return Err(c.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            _ => return Err(None),
        }
    }
}
