using System.CommandLine;
using System.Runtime.InteropServices;

namespace Harden.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // harden owns termination: SIGINT/SIGTERM cancel the run, which then restores what it changed
        // (bounded) and exits 4, instead of the process being torn down mid-write after a grace period.
        using var cts = new CancellationTokenSource();
        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!cts.IsCancellationRequested) Streams.Say(Console.Error, $"harden: {context.Signal} received; stopping and restoring what this run changed…");
            cts.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        // A dropped SSH session (SIGHUP) or Ctrl-\ must not leave a half-applied host either.
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Cancel);
        return await RunAsync(args, Console.Out, Console.Error, Console.IsInputRedirected ? null : Console.In, cts.Token,
            color: Views.Terminal.WantsColor(!Console.IsOutputRedirected, Environment.GetEnvironmentVariable));
    }

    /// <summary>The whole CLI, with its streams passed in so tests can drive it in-process.</summary>
    /// <param name="prompt">Where to read a confirmation from; null when nobody is at a terminal.</param>
    /// <param name="color">Colour the text output (stdout is a terminal and NO_COLOR is not set).</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, TextReader? prompt = null, CancellationToken ct = default, bool color = false)
    {
        var root = CreateCommand(new Streams(output, error, prompt) { Color = color });
        return await root.Parse(args).InvokeAsync(
            new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null }, ct);
    }

    /// <summary>The command tree (help, completion and the man page read it too).</summary>
    public static RootCommand CreateCommand(Streams console)
    {
        var root = new RootCommand(
            "harden: bring a Linux server to the HIPAA Security Rule technical safeguards (45 CFR 164.312) and keep it there.\n" +
            "'plan' shows what would change, 'apply' changes it with backups and automatic restore on failure, 'rollback' undoes a run, 'check' reports every control with its HIPAA citation, 'evidence' collects a verifiable bundle for the auditor.\n" +
            "\nExamples:\n" +
            "  sudo harden plan                                      what would change on this host (the profile for its release)\n" +
            "  sudo harden apply --set ssh_allow_members=alice       harden it; alice keeps SSH access\n" +
            "  sudo harden rollback                                  undo the last run\n" +
            "  sudo harden check --format html --out check.html      every control with its HIPAA citation\n" +
            "  sudo harden evidence --out evidence-$(date +%F)       a bundle for the auditor (sha256sum -c SHA256SUMS)\n" +
            "  harden plan --root /mnt/image --profile debian-hipaa  an offline image root\n" +
            "  harden profiles show debian-hipaa                     modules, variables and defaults\n" +
            "\nExit codes: 0 done or nothing to do, 1 error, 2 changes pending (plan --detailed-exitcode) or a control fails (check), 3 refused by the lockout guard, 4 failed and restored, 5 not fully restored (the message says how to finish), 6 rollback kept changes made since the run, 7 reboot needed.\n" +
            "NO_COLOR turns colour off; output is plain when it is not a terminal.")
        {
            PlanCommand.Create(console),
            ApplyCommand.Create(console),
            RollbackCommand.Create(console),
            CheckCommand.Create(console),
            EvidenceCommand.Create(console),
            ReportCommand.Create(console),
            ProfilesCommand.Create(console),
            VersionCommand.Create(console),
        };
        root.Options.Add(CommonOptions.Quiet);
        root.Subcommands.Add(ManCommand.Create(console, root));
        return root;
    }
}

/// <summary>The streams a command writes to; progress goes to stderr when stdout carries JSON.</summary>
public sealed record Streams(TextWriter Out, TextWriter Error, TextReader? Prompt)
{
    /// <summary>Colour text written to <see cref="Out"/> (see <see cref="Views.Terminal"/>).</summary>
    public bool Color { get; init; }

    /// <summary>Text for <see cref="Out"/>, coloured when a person is reading it.</summary>
    public string Styled(string text) => Color ? Views.Terminal.Paint(text) : text;

    /// <summary>
    /// Where a long run says what it is doing, one line per step: stdout (coloured at a terminal), or
    /// stderr when stdout carries JSON; nowhere with --quiet.
    /// </summary>
    public Action<string> Progress(bool json, bool quiet) =>
        quiet ? _ => { } : json ? line => Say(Error, line) : line => Say(Out, Styled(line));

    /// <summary>apply and rollback set owners and run chroot: refuse up front rather than fail half-way.</summary>
    public static void RequireRoot(string command)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new HardenException($"harden {command} must run as root (it sets file owners and runs commands through chroot); try: sudo harden {command} …");
    }

    /// <summary>Progress to a terminal that may be gone (a dropped SSH session): losing a line must never stop a restore.</summary>
    public static void Say(TextWriter writer, string line)
    {
        try
        {
            writer.WriteLine(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Nobody is listening; the journal still records every step.
        }
    }

    /// <summary>
    /// Runs a command body, turning a <see cref="HardenException"/> into its message and exit code.
    /// With <paramref name="json"/>, stdout still gets one JSON document (outcome "error", the exit
    /// code and the message), so a script reading it never meets an empty stdout.
    /// </summary>
    public async Task<int> GuardAsync(Func<Task<int>> body, bool json = false)
    {
        string message;
        int code;
        try
        {
            return await body();
        }
        catch (HardenException e)
        {
            (message, code) = (e.Message, e.ExitCode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            (message, code) = (e.Message, ExitCodes.Error);
        }
        Say(Error, $"harden: {message}");
        if (json)
        {
            using var buffer = new MemoryStream();
            using (var w = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("format_version", Planning.Plan.CurrentFormatVersion);
                w.WriteString("outcome", "error");
                w.WriteNumber("exit_code", code);
                w.WriteString("error", message);
                w.WriteEndObject();
            }
            Say(Out, System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        return code;
    }
}
