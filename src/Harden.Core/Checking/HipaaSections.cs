using System.Collections.Immutable;

namespace Harden.Checking;

/// <summary>The titles of the 45 CFR Part 164 paragraphs profiles cite, as the regulation names them.</summary>
public static class HipaaSections
{
    private static readonly ImmutableSortedDictionary<string, string> Titles = new Dictionary<string, string>
    {
        ["164.308(a)(1)"] = "Security management process",
        ["164.308(a)(1)(ii)(A)"] = "Risk analysis",
        ["164.308(a)(1)(ii)(B)"] = "Risk management",
        ["164.308(a)(1)(ii)(D)"] = "Information system activity review",
        ["164.308(a)(5)(ii)(B)"] = "Protection from malicious software",
        ["164.308(a)(5)(ii)(C)"] = "Log-in monitoring",
        ["164.308(a)(5)(ii)(D)"] = "Password management",
        ["164.308(a)(6)(ii)"] = "Response and reporting",
        ["164.308(a)(7)(ii)(A)"] = "Data backup plan",
        ["164.308(a)(7)(ii)(B)"] = "Disaster recovery plan",
        ["164.308(b)(1)"] = "Business associate contracts and other arrangements",
        ["164.310(d)(1)"] = "Device and media controls",
        ["164.312(a)(1)"] = "Access control",
        ["164.312(a)(2)(i)"] = "Unique user identification",
        ["164.312(a)(2)(iii)"] = "Automatic logoff",
        ["164.312(a)(2)(iv)"] = "Encryption and decryption",
        ["164.312(b)"] = "Audit controls",
        ["164.312(c)(1)"] = "Integrity",
        ["164.312(c)(2)"] = "Mechanism to authenticate electronic protected health information",
        ["164.312(d)"] = "Person or entity authentication",
        ["164.312(e)(1)"] = "Transmission security",
        ["164.312(e)(2)(i)"] = "Integrity controls",
        ["164.312(e)(2)(ii)"] = "Encryption",
        ["164.316(b)(2)(i)"] = "Documentation: time limit (retention)",
    }.ToImmutableSortedDictionary(StringComparer.Ordinal);

    /// <summary>The paragraph's title, or the nearest enclosing one's ("164.312(a)(1)" for an unknown "164.312(a)(1)(x)").</summary>
    public static string Title(string citation)
    {
        for (var c = citation; c.Length > 0; c = c.LastIndexOf('(') is > 0 and var i ? c[..i] : "")
        {
            if (Titles.TryGetValue(c, out var title)) return title;
        }
        return "";
    }

    /// <summary>The section a citation belongs to ("164.312(a)(2)(i)" → "164.312"), for summaries.</summary>
    public static string Section(string citation) => citation.IndexOf('(') is > 0 and var i ? citation[..i] : citation;

    public static string SectionTitle(string section) => section switch
    {
        "164.308" => "Administrative safeguards",
        "164.310" => "Physical safeguards",
        "164.312" => "Technical safeguards",
        "164.316" => "Policies, procedures and documentation",
        _ => "",
    };
}
