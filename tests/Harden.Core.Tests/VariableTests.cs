using Harden.Profiles;

namespace Harden.Core.Tests;

public sealed class VariableTests
{
    private static VariableDefinition Var(VariableType type, long? min = null, long? max = null, bool optional = false) =>
        new("v", type, null, "", min, max, optional);

    [TestCase(VariableType.Int, "900", "900")]
    [TestCase(VariableType.Port, "6514", "6514")]
    [TestCase(VariableType.Bool, "yes", "true")]
    [TestCase(VariableType.Host, "logs.example.org", "logs.example.org")]
    [TestCase(VariableType.Host, "10.0.0.5", "10.0.0.5")]
    [TestCase(VariableType.Names, "phi-access, admins", "phi-access,admins")]
    [TestCase(VariableType.Path, "/etc/ssl/ca.pem", "/etc/ssl/ca.pem")]
    [TestCase(VariableType.Paths, "/var/data/phi,/srv/phi", "/var/data/phi,/srv/phi")]
    public void Valid_values_parse(VariableType type, string raw, string expected) =>
        Assert.That(Var(type).Parse(raw).ToString(), Is.EqualTo(expected));

    [TestCase(VariableType.Int, "12a", "not a whole number")]
    [TestCase(VariableType.Port, "0", "out of range (1..65535)")]
    [TestCase(VariableType.Bool, "maybe", "not a boolean")]
    [TestCase(VariableType.Host, "a b", "not a host name")]
    [TestCase(VariableType.Host, "-x.example", "not a host name")]
    [TestCase(VariableType.Names, "ok,bad name", "'bad name', which is not a name")]
    [TestCase(VariableType.Path, "relative", "not an absolute path")]
    [TestCase(VariableType.Path, "/etc/../shadow", "not an absolute path")]
    [TestCase(VariableType.String, "", "must not be empty")]
    public void Invalid_values_are_refused_with_the_reason(VariableType type, string raw, string reason) =>
        Assert.That(() => Var(type).Parse(raw), Throws.TypeOf<HardenException>().With.Message.Contains(reason));

    [TestCase("x\nPermitRootLogin yes")]
    [TestCase("x\rY")]
    [TestCase("tab\there")]
    [TestCase("nul\0")]
    public void Control_characters_are_refused_for_every_type(string raw)
    {
        using (Assert.EnterMultipleScope())
        {
            foreach (var type in Enum.GetValues<VariableType>())
                Assert.That(() => Var(type).Parse(raw), Throws.TypeOf<HardenException>().With.Message.Contains("control character"), type.ToString());
        }
    }

    [Test]
    public void Int_range_is_enforced() =>
        Assert.That(() => Var(VariableType.Int, 60, 3600).Parse("59"), Throws.TypeOf<HardenException>().With.Message.Contains("out of range (60..3600)"));

    [Test]
    public void Binder_suggests_the_nearest_name_for_a_typo()
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        Assert.That(() => VariableBinder.Bind(profile, ["sesion_timeout=600"]),
            Throws.TypeOf<HardenException>().With.Message.Contains("did you mean 'session_timeout'"));
    }

    [Test]
    public void Binder_applies_defaults_and_overrides()
    {
        var values = VariableBinder.Bind(ProfileLoader.Load("ubuntu-hipaa"), ["session_timeout=600"]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(values["session_timeout"], Is.EqualTo(new VariableValue.Number(600)));
            Assert.That(values["log_server_port"], Is.EqualTo(new VariableValue.Number(6514)));
            Assert.That(values["log_server"].IsEmpty, Is.True);
        }
    }
}
