# Consolidates every protocol found on the given code paths, as `mix compile`
# does, and writes the consolidated modules into the output directory.
# Usage: elixir protocols.exs OUT_DIR PATH...
[out | paths] = System.argv()
Enum.each(paths, &Code.prepend_path/1)
paths = Enum.map(paths, &String.to_charlist/1)

for protocol <- Protocol.extract_protocols(paths) do
  impls = Protocol.extract_impls(protocol, paths)

  case Protocol.consolidate(protocol, impls) do
    {:ok, binary} ->
      File.write!(Path.join(out, Atom.to_string(protocol) <> ".beam"), binary)

    # A protocol compiled without debug info cannot be consolidated; it
    # keeps dispatching at run time.
    {:error, reason} ->
      IO.puts(:stderr, "not consolidated: #{inspect(protocol)} (#{inspect(reason)})")
  end
end
