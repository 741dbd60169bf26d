using System.CommandLine;
using Harden.Profiles;

namespace Harden.Cli;

/// <summary>harden version: what this binary is (version, commit, runtime) and the profiles built into it.</summary>
internal static class VersionCommand
{
    public static Command Create(Streams io)
    {
        var command = new Command("version", "Show harden's version, the commit it was built from, how it was built, and the profiles inside it");
        command.SetAction((_, _) => io.GuardAsync(async () =>
        {
            var full = Workflow.ToolVersion;
            var plus = full.IndexOf('+', StringComparison.Ordinal);
            var (version, commit) = plus < 0 ? (full, "unknown") : (full[..plus], full[(plus + 1)..]);
            // A NativeAOT binary has no JIT: dynamic code is not supported there.
            var build = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? $".NET {Environment.Version} runtime" : "NativeAOT (no .NET runtime needed)";
            await io.Out.WriteLineAsync($"harden {version}");
            await io.Out.WriteLineAsync($"commit: {commit}");
            await io.Out.WriteLineAsync($"build: {build}");
            await io.Out.WriteLineAsync("profiles:");
            foreach (var name in EmbeddedProfileSource.Instance.Names())
            {
                var profile = ProfileLoader.Load(name);
                await io.Out.WriteLineAsync($"  {name} ({(profile.Supports.IsEmpty ? "base, no release of its own" : string.Join(", ", profile.Supports))})");
            }
            return ExitCodes.Success;
        }));
        return command;
    }
}
