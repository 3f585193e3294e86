package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/config"
	"github.com/cillers/fapid/conformance/oidf"
	"github.com/cillers/fapid/conformance/rp"
)

const conformanceUsage = `conformance [-c FILE] [--plan PLAN]... [--variant FILTER]... [--module NAME]...

Runs fapid's FAPI 2.0 client conformance harness: the OpenID Foundation's
FAPI 2.0 client test modules (plain_fapi) played by a misbehaving test
authorization server on loopback against an in-process OAuth Agent, driven
through its HTTP API as a single-page application would. Prints one line per
module and variant (PASSED, FAILED or SKIPPED with the reason) and the counts
per plan; exits non-zero when a module fails.

With -c the agent's settings come from the configuration (client id, client
authentication, sender constraint, response mode, scopes, redirect URI, keys,
cookie and base-path settings, mTLS aliases) and only the variant it takes
part in runs; the test server, certificates and issuer are the harness's own.
With -c and --oidf it prints the OpenID conformance suite's plan
configuration for that agent instead (see conformance/oidf/README.md).

PLAN: security-profile | message-signing (default both).
FILTER: key=value[,key=value] with client_auth_type (auth), sender_constrain
(sender), fapi_client_type (type), fapi_request_method (request),
fapi_response_mode (response), or a variant as the table prints it, e.g.
pkjwt+dpop/oidc/signed/jarm. Several --variant flags select their union.`

// conformanceCommand implements `fapid conformance`.
func conformanceCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conformance", conformanceUsage, stdout)
	cfgPath := fs.StringP("config", "c", "", "take the agent's settings from this fapid configuration")
	plans := fs.StringSlice("plan", nil, "test plan to run: security-profile, message-signing (default both)")
	variants := fs.StringArray("variant", nil, "run only variants matching FILTER (repeatable)")
	modules := fs.StringArray("module", nil, "run only this module, e.g. test-happy-path (repeatable)")
	parallel := fs.Int("parallel", 0, "module runs at a time (default 2 × CPUs)")
	printOIDF := fs.Bool("oidf", false, "with -c: print the OpenID conformance suite plan configuration instead of running")
	alias := fs.String("oidf-alias", "", "with --oidf: the suite alias (default fapid-<client id>)")
	suite := fs.String("oidf-suite", "", "with --oidf: the suite's base URL (default "+oidf.DefaultSuiteURL+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("conformance: unexpected argument %q", fs.Arg(0))
	}
	if *printOIDF && *cfgPath == "" {
		return usageError("conformance: --oidf needs -c FILE")
	}
	opts := rp.Options{Modules: *modules, Parallel: *parallel}
	for _, p := range *plans {
		plan, err := rp.ParsePlan(p)
		if err != nil {
			return usageError("conformance: %v", err)
		}
		opts.Plans = append(opts.Plans, plan)
	}
	for _, v := range *variants {
		f, err := rp.ParseVariantFilter(v)
		if err != nil {
			return usageError("conformance: %v", err)
		}
		opts.Variants = append(opts.Variants, f)
	}
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		if cfg.Agent == nil {
			return fmt.Errorf("conformance: %s has no agent section", *cfgPath)
		}
		if *printOIDF {
			return writeOIDF(ctx, stdout, cfg, oidf.Options{Alias: *alias, SuiteURL: *suite})
		}
		if err := fromConfig(ctx, cfg, &opts); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent settings from %s: client %s, variant %s\n\n", *cfgPath, cfg.Agent.Client.ID, oidf.VariantOf(cfg.Agent))
	}
	rep, err := rp.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("conformance: %w", err)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d module runs in %s\n", len(rep.Results), rep.Elapsed.Round(1e6))
	if n := len(rep.Failed()); n > 0 {
		return fmt.Errorf("conformance: %d of %d module runs failed", n, len(rep.Results))
	}
	return nil
}

// fromConfig takes the agent's settings from a configuration and selects
// the one variant it takes part in: the Security Profile plan's (unsigned
// request, as the plan forces) and the Message Signing plan's (signed).
func fromConfig(ctx context.Context, cfg *config.File, o *rp.Options) error {
	a := cfg.Agent
	s := rp.AgentSettings{
		ClientID: a.Client.ID, Scopes: a.Scopes, Resources: a.Resources, RedirectURI: a.RedirectURI,
		BasePath: a.BasePath, Compat: agent.Compat(a.Compat),
	}
	if sess := cfg.Session; sess != nil {
		s.CookiePrefix = sess.CookiePrefix
		if len(sess.TrustedOrigins) > 0 {
			s.Origin = sess.TrustedOrigins[0]
		}
	}
	if as := cfg.AuthorizationServer; as != nil {
		s.UseMTLSAliases = as.UseMTLSEndpointAliases
	}
	var err error
	if s.Signer, err = loadSigner(ctx, a.Client.Key, a.Client.KeyID); err != nil {
		return fmt.Errorf("conformance: agent.client.key: %w", err)
	}
	if a.DPoPKey != "" {
		if s.DPoPSigner, err = loadSigner(ctx, a.DPoPKey, ""); err != nil {
			return fmt.Errorf("conformance: agent.dpop_key: %w", err)
		}
	}
	o.Agent = s
	want := oidf.VariantOf(a)
	o.Select = func(p rp.Plan, v rp.Variant) bool {
		w := want
		if !p.MessageSigning {
			w.RequestMethod = rp.RequestUnsigned
		}
		return v == w
	}
	return nil
}

func writeOIDF(ctx context.Context, w io.Writer, cfg *config.File, o oidf.Options) error {
	out, err := oidf.Generate(ctx, cfg, o)
	if err != nil {
		return err
	}
	if len(out.Plans) == 0 {
		return errors.New("conformance: no OpenID test plan applies to this agent configuration")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
