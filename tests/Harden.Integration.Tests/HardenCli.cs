using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

public sealed record CliRun(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>Drives the real harden CLI: in-process through its entry point, or as a separate process.</summary>
public static class HardenCli
{
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Harden.Cli.Program.RunAsync(args, output, error, prompt: null);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>The built harden.dll beside the tests, run with the dotnet host from another directory.</summary>
    public static string Assembly => Path.Combine(AppContext.BaseDirectory, "harden.dll");

    public static Command Process(params string[] args) =>
        CliWrap.Cli.Wrap("dotnet").WithArguments([Assembly, .. args]).WithWorkingDirectory("/").WithValidation(CommandResultValidation.None);

    public static async Task<CliRun> RunProcessAsync(params string[] args)
    {
        var r = await Process(args).ExecuteBufferedAsync();
        return new CliRun(r.ExitCode, r.StandardOutput, r.StandardError);
    }
}
