defmodule ElixirWorkers.R2 do
  @moduledoc """
  R2 object storage. `bucket` is the binding name from `wrangler.jsonc`
  (`r2_buckets[].binding`).

  Reads (`get/4`, `head/3`, `list/3`) go through `ElixirWorkers.Bindings`:
  `nil` until fetched, and reads of one pass are made in parallel with every
  other read of that pass (KV, D1, fetch). A key that does not exist is a
  miss: `get/4` and `head/3` return `nil` and the route answers normally.

  An object is a map: `"key"`, `"size"`, `"etag"`, `"version"`,
  `"uploaded"` (ISO 8601 text), `"http_metadata"` (`"content_type"`,
  `"content_language"`, `"content_disposition"`, `"content_encoding"`,
  `"cache_control"`, `"cache_expiry"`, those that are set),
  `"custom_metadata"` (a map of strings); `get/4` adds `"body"` (the bytes)
  and, for a range, `"range"` (`%{"offset" => o, "length" => n}`).

  Writes (`put/5`, `delete/3`) are effects, run after the response has been
  sent, in the order queued, and only if the route did not crash.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc """
  The object under `key` with its bytes, or `nil`. `opts` may hold
  `"range"`: `%{"offset" => o, "length" => n}` (either may be left out) or
  `%{"suffix" => n}` (the last n bytes).
  """
  def get(%Conn{} = conn, bucket, key, opts \\ %{})
      when is_binary(bucket) and is_binary(key) and is_map(opts) do
    need = %{"type" => "r2_get", "bucket" => bucket, "key" => key}

    need =
      case :maps.find("range", opts) do
        {:ok, range} when is_map(range) -> :maps.put("range", range, need)
        _ -> need
      end

    case Bindings.fetch(conn, need) do
      %{"body" => range} = object -> :maps.put("body", Bindings.bytes(conn, range), object)
      nil -> nil
    end
  end

  @doc "The object's metadata without its bytes, or `nil`."
  def head(%Conn{} = conn, bucket, key) when is_binary(bucket) and is_binary(key),
    do: Bindings.fetch(conn, %{"type" => "r2_head", "bucket" => bucket, "key" => key})

  @doc """
  Lists objects: `%{"objects" => [object], "truncated" => bool, "cursor" =>
  text | nil, "delimited_prefixes" => [text]}`. `opts` may hold `"prefix"`,
  `"cursor"` (from the last page), `"limit"` (at most 1000), `"delimiter"`
  (e.g. `"/"`: keys below it are rolled up into `"delimited_prefixes"`).
  """
  def list(%Conn{} = conn, bucket, opts \\ %{}) when is_binary(bucket) and is_map(opts) do
    need = %{"type" => "r2_list", "bucket" => bucket}
    need = Bindings.copy_opts(opts, ["prefix", "cursor", "limit", "delimiter"], need)
    Bindings.fetch(conn, need)
  end

  @doc """
  Queues a write of `body` (iodata, stored byte for byte) under `key`.
  `opts` may hold `"http_metadata"` (e.g. `%{"content_type" => "image/png"}`)
  and `"custom_metadata"` (a map of strings).
  """
  def put(%Conn{} = conn, bucket, key, body, opts \\ %{})
      when is_binary(bucket) and is_binary(key) and is_map(opts) do
    effect = %{
      "type" => "r2_put",
      "bucket" => bucket,
      "key" => key,
      "body_base64" => Bindings.encode_bytes(body)
    }

    effect = Bindings.copy_opts(opts, ["http_metadata", "custom_metadata"], effect)
    Conn.add_effect(conn, effect)
  end

  @doc "Queues the deletion of `key`, or of every key in a list (up to 1000)."
  def delete(%Conn{} = conn, bucket, keys) when is_binary(bucket) and (is_binary(keys) or is_list(keys)),
    do: Conn.add_effect(conn, %{"type" => "r2_delete", "bucket" => bucket, "keys" => keys})
end
