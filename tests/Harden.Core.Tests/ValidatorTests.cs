using Harden.Execution;
using Harden.Planning;

namespace Harden.Core.Tests;

/// <summary>The audit rule lint; ausyscall's answers are scripted here (the integration tests use the real one).</summary>
public sealed class ValidatorTests
{
    private sealed class Ausyscall(params string[] unknown) : ICommandRunner
    {
        public List<string> Asked { get; } = [];

        public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken)
        {
            Asked.Add($"{argv[1]} {argv[2]}");
            return Task.FromResult(unknown.Contains(argv[2]) ? new CommandResult(1, "", "Unknown syscall") : new CommandResult(0, "87", ""));
        }
    }


    [Test]
    public async Task Valid_rules_pass_and_every_syscall_is_asked_for_each_arch()
    {
        var runner = new Ausyscall();
        var result = await new Validators(runner).CheckAuditRulesAsync("/etc/audit/rules.d/x.rules", (
            "## comment\n-D\n-b 8192\n-w /var/data/phi -p rwxa -k phi_access\n" +
            "-a always,exit -F arch=b64 -S unlink -S unlinkat,rename -k file_deletion\n" +
            "-a always,exit -F arch=b32 -S execve -F euid=0 -k root_commands\n"), CancellationToken.None);
        Assert.That(result, Is.Null);
        Assert.That(runner.Asked, Is.EquivalentTo(new[] { "b32 execve", "b64 rename", "b64 unlink", "b64 unlinkat" }));
    }

    [TestCase("-w /etc/passwd -p wz -k x", ":1: not a valid audit rule")]
    [TestCase("-w relative -p wa", ":1: not a valid audit rule")]
    [TestCase("-a always,exit -S execve -k x", "without -F arch")]
    [TestCase("-a sometimes,exit -F arch=b64 -S execve", "not a valid audit rule")]
    [TestCase("-a always,exit -F arch=b64 -S notasyscall -k x", "syscall 'notasyscall' is unknown for b64")]
    public async Task Bad_rules_are_reported_with_line(string rule, string message)
    {
        var result = await new Validators(new Ausyscall("notasyscall")).CheckAuditRulesAsync("/etc/audit/rules.d/x.rules", (rule + "\n"), CancellationToken.None);
        Assert.That(result, Does.Contain(message));
    }
}
