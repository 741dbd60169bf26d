using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>What ships besides the code: the published binary and the shell scripts.</summary>
public sealed class ShippedArtifactsTests
{
    internal static string RepoRoot => Vm.PublishedHarden.RepoRoot;

    /// <summary>
    /// The publish contract: OUT/harden alone, from any directory; NativeAOT is what a plain publish
    /// gives (true) and ReadyToRun what -p:PublishAot=false gives. The NativeAOT build also proves
    /// the code stays trim- and AOT-safe (its warnings are errors here) and behaves the same.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public async Task Published_binary_works_alone_from_any_directory(bool nativeAot)
    {
        if (nativeAot) await DebianRoot.EnsurePackagesAsync("gcc", "zlib1g-dev");
        var output = Directory.CreateTempSubdirectory("harden-publish-").FullName;
        using var root = await DebianRoot.CreateAsync();
        try
        {
            var publish = await Vm.PublishedHarden.DotnetAsync("publish", Path.Combine(RepoRoot, "src/Harden.Cli"), "-c", "Release", "-o", output, nativeAot ? "-p:PublishAot=true" : "-p:PublishAot=false");
            Assert.That(publish.ExitCode, Is.Zero, publish.StandardOutput + publish.StandardError);
            Assert.That(Directory.GetFiles(output).Select(Path.GetFileName), Is.EquivalentTo(new[] { "harden" }), "one file, nothing beside it");

            async Task<BufferedCommandResult> Harden(params string[] args) =>
                await CliWrap.Cli.Wrap(Path.Combine(output, "harden")).WithArguments(args)
                    .WithWorkingDirectory("/").WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();

            var show = await Harden("profiles", "show", "debian-hipaa");
            var apply = await Harden("apply", "--profile", "debian-hipaa", "--root", root.Path, "--yes", "--accept-lockout-risk", "--format", "json");
            var again = await Harden("plan", "--profile", "debian-hipaa", "--root", root.Path, "--detailed-exitcode");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(show.StandardOutput, Does.Contain("session_timeout").And.Contain("45 CFR 164.312(b)"));
                Assert.That(apply.ExitCode, Is.Zero, apply.StandardError);
                Assert.That(System.Text.Json.JsonDocument.Parse(apply.StandardOutput).RootElement.GetProperty("outcome").GetString(), Is.EqualTo("applied"));
                Assert.That(again.ExitCode, Is.Zero, again.StandardOutput + again.StandardError);
                Assert.That((await root.EffectiveSshdAsync())["passwordauthentication"], Is.EqualTo("no"));
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    /// <summary>For people with the SDK: dotnet pack gives a .NET tool that installs from a local folder alone (no other feed) and runs.</summary>
    [Test]
    public async Task Packs_as_a_dotnet_tool_that_installs_and_runs()
    {
        var work = Directory.CreateTempSubdirectory("harden-tool-").FullName;
        try
        {
            var feed = Path.Combine(work, "feed");
            var pack = await Vm.PublishedHarden.DotnetAsync("pack", Path.Combine(RepoRoot, "src/Harden.Cli"), "-c", "Release", "-o", feed);
            Assert.That(pack.ExitCode, Is.Zero, pack.StandardOutput + pack.StandardError);
            Assert.That(Directory.GetFiles(feed, "harden.*.nupkg"), Has.Length.EqualTo(1));
            // Only the local folder as a source: the install needs nothing from the network.
            var config = Path.Combine(work, "nuget.config");
            await File.WriteAllTextAsync(config, $"<configuration><packageSources><clear /><add key=\"local\" value=\"{feed}\" /></packageSources></configuration>\n");
            var tools = Path.Combine(work, "tools");
            var install = await DebianRoot.Run("dotnet", ["tool", "install", "--tool-path", tools, "--configfile", config, "harden"]);
            Assert.That(install.ExitCode, Is.Zero, install.StandardOutput + install.StandardError);
            var version = await DebianRoot.Run(Path.Combine(tools, "harden"), ["version"]);
            Assert.That(version.ExitCode, Is.Zero, version.StandardError);
            Assert.That(version.StandardOutput, Does.StartWith("harden ").And.Contain("debian-hipaa"));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [TestCase(".ci/run")]
    [TestCase("bench/run.sh")]
    [TestCase("packaging/build-deb.sh")]
    [TestCase("packaging/sysroot.sh")]
    [TestCase("packaging/debian/postinst")]
    [TestCase("packaging/debian/prerm")]
    [TestCase("packaging/completion/harden.bash")]
    public async Task Shell_scripts_pass_shellcheck(string script)
    {
        await DebianRoot.EnsurePackagesAsync("shellcheck");
        var result = await CliWrap.Cli.Wrap("shellcheck").WithArguments([Path.Combine(RepoRoot, script)])
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(result.ExitCode, Is.Zero, result.StandardOutput);
    }
}
