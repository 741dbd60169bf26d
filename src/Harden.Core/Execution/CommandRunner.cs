using System.Collections.Immutable;
using CliWrap;
using CliWrap.Buffered;
using Harden.Host;

namespace Harden.Execution;

public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The command's own words, for an error message: stderr first, else stdout.</summary>
    public string Message => (StandardError.Trim().Length > 0 ? StandardError : StandardOutput).Trim();
}

/// <summary>The one door through which harden runs programs, so tests and dry runs can see every call.</summary>
public interface ICommandRunner
{
    Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken);
}

/// <summary>
/// Runs commands with CliWrap. Under an offline root every command runs as
/// <c>setpriv --no-new-privs chroot ROOT cmd …</c>, so it sees the image's binaries and files, never this machine's.
/// </summary>
public sealed class CliWrapCommandRunner(HostRoot root) : ICommandRunner
{
    private static readonly ImmutableDictionary<string, string?> Environment = new Dictionary<string, string?>
    {
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["LC_ALL"] = "C",
        ["DEBIAN_FRONTEND"] = "noninteractive",
    }.ToImmutableDictionary();

    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
    {
        // The image's own programs run as root: with no_new_privs, none of them can gain more
        // (setuid binaries, file capabilities) than the chroot already gives, and in a private mount
        // namespace (where the kernel allows one) nothing they mount reaches this machine.
        IReadOnlyList<string> full = root.IsProcessRoot ? argv
            : PrivateMounts.Value ? ["unshare", "--mount", "--propagation", "private", "setpriv", "--no-new-privs", "chroot", root.Path, .. argv]
            : ["setpriv", "--no-new-privs", "chroot", root.Path, .. argv];
        // In a session of its own, a program never gets the terminal's Ctrl-C (which goes to the whole
        // foreground process group): harden alone decides to stop, after the step in hand, and
        // restores. Otherwise usermod or dpkg would die half-way with exit 130.
        if (OwnSession.Value) full = ["setsid", "--wait", .. full];
        try
        {
            var result = await Cli.Wrap(ResolveExecutable(full[0]))
                .WithArguments(full.Skip(1))
                .WithEnvironmentVariables(Environment)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken);
            return new CommandResult(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new CommandResult(127, "", $"{full[0]}: {e.Message}");
        }
    }

    private static string ResolveExecutable(string name)
    {
        if (name.Contains('/')) return name;
        foreach (var dir in Environment["PATH"]!.Split(':'))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return name;
    }

    private static readonly Lazy<bool> OwnSession = new(() => File.Exists(ResolveExecutable("setsid")));

    /// <summary>Whether this machine lets harden make a private mount namespace (not in every container); asked once.</summary>
    private static readonly Lazy<bool> PrivateMounts = new(() =>
    {
        try
        {
            return Cli.Wrap(ResolveExecutable("unshare")).WithArguments(["--mount", "--propagation", "private", "true"])
                .WithValidation(CommandResultValidation.None).ExecuteAsync().Task.GetAwaiter().GetResult().ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public static string Display(IEnumerable<string> argv) =>
        string.Join(' ', argv.Select(a => a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$') ? $"'{a.Replace("'", "'\\''")}'" : a));
}

/// <summary>
/// A program that changes the host (usermod, dpkg, augenrules) must not be killed half-way when harden
/// is asked to stop: it would leave lock files (/etc/shadow.lock) and half-written databases that the
/// restore cannot undo. Such a program gets a grace period to finish, and only one that hangs is
/// killed; a program that only reads (sshd -T, a validator) is stopped at once.
/// </summary>
public static class StopGrace
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(60);

    /// <summary>A token that fires <see cref="Period"/> after <paramref name="stop"/> does; dispose it after the program ends.</summary>
    public static Scope For(CancellationToken stop) => new(stop);

    public sealed class Scope : IDisposable
    {
        private readonly CancellationTokenSource _kill = new();
        private readonly CancellationTokenRegistration _registration;

        internal Scope(CancellationToken stop) => _registration = stop.Register(() => _kill.CancelAfter(Period));

        public CancellationToken Token => _kill.Token;

        public void Dispose()
        {
            _registration.Dispose();
            _kill.Dispose();
        }
    }
}
