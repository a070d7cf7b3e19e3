defmodule Vordr.MixProject do
  use Mix.Project

  # The workspace root: this project lives in integrations/vordr.
  @root Path.expand("../..", __DIR__)

  def project do
    [
      app: :vordr,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      deps: [],
      aliases: [compile: [&build_nif/1, "compile"]]
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Vordr.Application, []}]
  end

  # Puts the NIF (and the guest it runs) into priv/ before compiling, unless
  # SELUR_NIF_PATH names a NIF built elsewhere (the cargo test wrapper and
  # `cargo xtask bench selur` do that). No hex, no rustler mix package: the
  # NIF is a plain cargo build and :erlang.load_nif.
  defp build_nif(_args) do
    if System.get_env("SELUR_NIF_PATH") in [nil, ""] do
      # The same package set as `cargo xtask bench selur` builds: the
      # example pulls in selur's dev-dependencies, which changes feature
      # unification, and a different set would rebuild wasmtime each time.
      args = ~w(build --release -p selur-nif -p selur --lib --example roundtrip)
      Mix.shell().info("cargo " <> Enum.join(args, " "))

      {_, status} =
        System.cmd("cargo", args,
          cd: @root,
          into: IO.stream(:stdio, :line),
          stderr_to_stdout: true
        )

      if status != 0, do: Mix.raise("cargo #{Enum.join(args, " ")} failed (exit #{status})")

      target = System.get_env("CARGO_TARGET_DIR") || Path.join(@root, "target")
      File.mkdir_p!("priv")
      File.cp!(Path.join([target, "release", "libselur_nif.so"]), "priv/libselur_nif.so")
    end

    File.mkdir_p!("priv")
    File.cp!(Path.join(@root, "crates/selur/guest/selur.wasm"), "priv/selur.wasm")
  end
end
