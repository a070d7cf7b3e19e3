ExUnit.start()

defmodule TestHelper do
  @moduledoc false
  alias ElixirWorkers.JSON

  # Builds request bytes in the wire format of PROTOCOL.md.
  def request(method, url, opts \\ []) do
    head =
      %{"method" => method, "url" => url, "id" => Keyword.get(opts, :id, "req-1")}
      |> put_opt("headers", Keyword.get(opts, :headers))
      |> put_opt("bindings", Keyword.get(opts, :bindings))
      |> put_opt("env", Keyword.get(opts, :env))
      |> put_opt("pass", Keyword.get(opts, :pass))

    IO.iodata_to_binary([JSON.encode(head), ?\n, Keyword.get(opts, :body, "")])
  end

  defp put_opt(map, _k, nil), do: map
  defp put_opt(map, k, v), do: Map.put(map, k, v)

  # Runs a request through TestApp and splits the answer into head and body.
  def call(method, url, opts \\ []) do
    out = IO.iodata_to_binary(TestApp.handle(request(method, url, opts)))
    [head, body] = :binary.split(out, "\n")
    {JSON.decode!(head), body}
  end
end
