defmodule ElixirWorkers.Queue do
  @moduledoc """
  Cloudflare Queues: sending from any run, consuming batches in the app.

  Sending: `queue` is the producer binding from `wrangler.jsonc`
  (`queues.producers[].binding`). `send/4` and `send_batch/4` are effects:
  the messages go out after the response has been sent, and only if the
  route did not crash.

      conn
      |> Queue.send("JOBS", %{"user" => id, "action" => "welcome"})
      |> Conn.json(202, %{"queued" => true})

  A body is any term `ElixirWorkers.JSON` encodes (`"content_type" =>
  "json"`, the default), a string sent as text (`"text"`) or bytes
  (`"bytes"`). `"delay_seconds"` delays delivery.

  Consuming: the app names a consumer (`use ElixirWorkers.App, router: ...,
  queue: MyApp.Consumer`, and `queues.consumers` in `wrangler.jsonc`); its
  `queue/1` gets a conn whose `event` is `%{"type" => "queue", "queue" =>
  name, "messages" => [...]}`; `messages/1` gives the messages, each a map
  with `"id"`, `"timestamp"` (milliseconds since the epoch), `"attempts"` (1
  on the first delivery) and `"body"` (the decoded JSON term, the text, or
  the bytes).
  The consumer returns the conn:

      def queue(conn) do
        :lists.foldl(fn message, conn ->
          case message["body"] do
            %{"action" => "welcome"} -> conn |> KV.put("SENT", message["id"], "1") |> Queue.ack(message)
            _ -> Queue.retry(conn, message, %{"delay_seconds" => 30})
          end
        end, conn, Queue.messages(conn))
      end

  The consumer may read bindings (with passes, as a route does) and queue
  effects; the effects run before the batch is settled. Then each
  message marked with `ack/2` is done, each marked with `retry/3` is
  delivered again later, and the rest are done too (as Workers treats a
  consumer that returns). A consumer that crashes, or an effect of it that
  fails, leaves every message of the batch to be delivered again.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc "Queues one message on the producer binding `queue`."
  def send(%Conn{} = conn, queue, body, opts \\ %{}) when is_binary(queue) and is_map(opts) do
    effect = message(body, opts)
    Conn.add_effect(conn, :maps.merge(effect, %{"type" => "queue_send", "queue" => queue}))
  end

  @doc """
  Queues several messages as one batch: each element is a body, or
  `{body, opts}` with the options of `send/4`. `opts` may hold
  `"delay_seconds"` for the whole batch.
  """
  def send_batch(%Conn{} = conn, queue, messages, opts \\ %{})
      when is_binary(queue) and is_list(messages) and is_map(opts) do
    list =
      :lists.map(
        fn
          {body, message_opts} when is_map(message_opts) -> message(body, message_opts)
          body -> message(body, %{})
        end,
        messages
      )

    effect = %{"type" => "queue_send_batch", "queue" => queue, "messages" => list}
    Conn.add_effect(conn, Bindings.copy_opt(opts, "delay_seconds", effect))
  end

  @doc """
  The messages of the batch a consumer is running for (`[]` in any other
  run), each with its `"body"`. Read them here rather than from
  `conn.event["messages"]`: a body of bytes arrives there as a range of the
  blob area (`"body_bytes"`), and this turns it into the binary.
  """
  def messages(%Conn{event: %{"type" => "queue", "messages" => messages}} = conn),
    do: :lists.map(fn m -> body_bytes(m, conn) end, messages)

  def messages(%Conn{}), do: []

  defp body_bytes(%{"body_bytes" => range} = message, conn),
    do: :maps.put("body", Bindings.bytes(conn, range), :maps.remove("body_bytes", message))

  defp body_bytes(message, _conn), do: message

  @doc "Marks a message (the map, or its id) as done: it will not be delivered again."
  def ack(%Conn{} = conn, message), do: Conn.add_effect(conn, %{"type" => "queue_ack", "id" => id(message)})

  @doc """
  Marks a message (the map, or its id) to be delivered again;
  `opts` may hold `"delay_seconds"`.
  """
  def retry(%Conn{} = conn, message, opts \\ %{}) when is_map(opts) do
    effect = Bindings.copy_opt(opts, "delay_seconds", %{"type" => "queue_retry", "id" => id(message)})
    Conn.add_effect(conn, effect)
  end

  @doc "Marks every message of the batch as done."
  def ack_all(%Conn{} = conn), do: Conn.add_effect(conn, %{"type" => "queue_ack_all"})

  @doc "Marks every message of the batch to be delivered again; `opts` may hold `\"delay_seconds\"`."
  def retry_all(%Conn{} = conn, opts \\ %{}) when is_map(opts),
    do: Conn.add_effect(conn, Bindings.copy_opt(opts, "delay_seconds", %{"type" => "queue_retry_all"}))

  defp id(%{"id" => id}) when is_binary(id), do: id
  defp id(id) when is_binary(id), do: id

  defp message(body, opts) do
    m =
      case :maps.get("content_type", opts, "json") do
        "json" -> %{"body" => body, "content_type" => "json"}
        "text" when is_binary(body) -> %{"body" => body, "content_type" => "text"}
        "bytes" -> %{"body_base64" => Bindings.encode_bytes(body), "content_type" => "bytes"}
      end

    Bindings.copy_opt(opts, "delay_seconds", m)
  end
end
