package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picketsec/picket/internal/dynalite"
)

// The replica test runs three `picket run` processes on one SNS/SQS queue
// (the fauxqs emulator), one DynamoDB table (dynalite) and the storm tests'
// Slack server (429 on every 7th post), in Slack HTTP mode, and checks what
// issue 14 asks of replicas through a SIGKILL and a SIGTERM mid-stream.

const (
	replicaPace          = 250 * time.Millisecond
	replicaSecret        = "replica-e2e-signing-secret-0123456789"
	replicaAuditKey      = "replica-e2e-audit-key-0123456789abcdef"
	replicaDigestChannel = "#posture"
	replicaClicker       = "U0ALICE"
	replicaLows          = 260
	replicaHighs         = 40
	replicaUpdates       = 5
)

// replicaRig is a stormRig whose processes share a dynalite table and
// answer Slack over HTTP.
type replicaRig struct {
	*stormRig
	table, dynURL string
}

func newReplicaRig(t testing.TB, name string) *replicaRig {
	t.Helper()
	srv := dynalite.Shared(t)
	r := &replicaRig{stormRig: newStormRig(t, name), table: srv.Table(t), dynURL: srv.URL()}
	cfg := `slack:
  default_channel: "` + stormChannel + `"
  default_min_severity: low
  message_interval: ` + replicaPace.String() + `
routes:
  - name: backdoor
    types: ["Backdoor:*"]
    min_severity: high
    channel: "` + incidentChannel + `"
delivery:
  grouping: true
  group_max_severity: medium
roles:
  - name: responders
    users: ["` + replicaClicker + `"]
    actions: ["*"]
digests:
  - name: e2e
    channel: "` + replicaDigestChannel + `"
    schedule: "* * * * *"
ingest:
  wait_time: 1s
  visibility_timeout: 5s
  reconcile_interval: 0s
enrich:
  enabled: false
`
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// env is the environment of every picket command run on the rig.
func (r *replicaRig) env() []string {
	return append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL="+r.emu.URL(),
		"PICKET_STORE_BACKEND=dynamodb", "PICKET_STORE_TABLE="+r.table, "PICKET_STORE_ENDPOINT="+r.dynURL,
		"PICKET_STORE_REGION="+dynalite.Region, "PICKET_AUDIT_KEY="+replicaAuditKey)
}

// replica is one running `picket run` and the address of its Slack
// request endpoint.
type replica struct {
	name string
	cmd  *exec.Cmd
	url  string
}

// startReplica runs one replica in Slack HTTP mode on a free port, with
// its own data directory, and waits until it answers HTTP.
func (r *replicaRig) startReplica(name string) *replica {
	t := r.t
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(picketBinary(t), "run", "--config", r.config)
	cmd.Env = append(r.env(),
		"PICKET_QUEUE_URL="+r.queueURL, "SLACK_BOT_TOKEN=xoxb-"+name, "SLACK_SIGNING_SECRET="+replicaSecret,
		"PICKET_SLACK_MODE=http", "PICKET_SLACK_HTTP_ADDR="+addr,
		"PICKET_SLACK_API_URL="+r.slack.srv.GetAPIURL(), "PICKET_DATA_DIR="+filepath.Join(r.dataDir, name),
		"PICKET_HTTP_ADDR=off", "PICKET_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = io.Discard, prefixed{name, r.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	rep := &replica{name: name, cmd: cmd, url: "http://" + addr}
	waitForTB(t, name+" listening", 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return rep
}

// prefixed writes each chunk of a replica's log with its name.
type prefixed struct {
	name string
	w    io.Writer
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := fmt.Fprintf(p.w, "[%s] %s", p.name, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// stop signals the replica and waits for it to end.
func (rep *replica) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := rep.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rep.cmd.Wait() }()
	select {
	case err := <-done:
		if sig == syscall.SIGTERM && err != nil {
			t.Errorf("%s after SIGTERM: %v", rep.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of %s", rep.name, sig)
	}
}

// replicaEvents returns the stream: lows Low findings of two types (two
// grouped bursts in the storm channel) and highs distinct High Backdoor
// findings (one alert each in the incident channel), mixed, one instance
// each; and update, which returns a later version of High finding i with
// a new title.
func replicaEvents(t *testing.T, lows, highs int) (msgs, instances, highInstances []string, update func(i int) string) {
	t.Helper()
	base := readTestdata(t, "eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json")
	make1 := func(n int, typ, title string, sev float64, updated time.Time) string {
		var ev map[string]any
		if err := json.Unmarshal([]byte(base), &ev); err != nil {
			t.Fatal(err)
		}
		d := ev["detail"].(map[string]any)
		id := fmt.Sprintf("%032x", 0x7e91+n)
		inst := fmt.Sprintf("i-storm%08d", n)
		d["id"] = id
		// The account Picket runs in (the emulator's), so that a click
		// needs no role in another account.
		d["accountId"] = "000000000000"
		d["arn"] = "arn:aws:guardduty:us-east-1:000000000000:detector/abc/finding/" + id
		d["type"], d["title"], d["severity"] = typ, title+" "+inst, sev
		d["updatedAt"] = updated.UTC().Format(time.RFC3339Nano)
		d["resource"].(map[string]any)["instanceDetails"].(map[string]any)["instanceId"] = inst
		b, _ := json.Marshal(ev)
		return string(b)
	}
	first := time.Now().Add(-time.Hour)
	var highMsgs []string
	for i := range highs {
		n := lows + i
		highMsgs = append(highMsgs, make1(n, "Backdoor:EC2/C&CActivity.B!DNS", "Command and Control server domain name queried by EC2 instance", 8, first))
		highInstances = append(highInstances, fmt.Sprintf("i-storm%08d", n))
	}
	every := max(1, lows/max(1, highs))
	for i := range lows {
		typ, title := "Recon:EC2/PortProbeUnprotectedPort", "Unprotected port on EC2 instance is being probed:"
		if i%2 == 1 {
			typ, title = "UnauthorizedAccess:EC2/SSHBruteForce", "SSH brute force attacks against"
		}
		msgs = append(msgs, make1(i, typ, title, 2, first))
		instances = append(instances, fmt.Sprintf("i-storm%08d", i))
		if i%every == every-1 && len(highMsgs) > 0 {
			msgs, highMsgs = append(msgs, highMsgs[0]), highMsgs[1:]
		}
	}
	msgs = append(msgs, highMsgs...)
	instances = append(instances, highInstances...)
	update = func(i int) string {
		return make1(lows+i, "Backdoor:EC2/C&CActivity.B!DNS", "UPDATED Command and Control server domain name queried by EC2 instance", 8, first.Add(30*time.Minute))
	}
	return msgs, instances, highInstances, update
}

// alertOf returns the alert (chat.postMessage with an "a:" post id) that
// shows instance, if any.
func (r *replicaRig) alertOf(instance string) (stormMessage, bool) {
	for _, m := range r.slack.snapshot() {
		if m.Method == "chat.postMessage" && strings.HasPrefix(m.PostID, "a:") && strings.Contains(m.Content, instance) {
			return m, true
		}
	}
	return stormMessage{}, false
}

// paceViolations returns, per channel, the accepted posts and updates that
// are the third within one interval (the pace allows one, plus one when
// delivery passes from a replica to another).
func paceViolations(msgs []stormMessage, interval time.Duration) []string {
	per := map[string][]time.Time{}
	for _, m := range msgs {
		per[m.Channel] = append(per[m.Channel], m.At)
	}
	var out []string
	for ch, ts := range per {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 2; i < len(ts); i++ {
			if d := ts[i].Sub(ts[i-2]); d < interval {
				out = append(out, fmt.Sprintf("%s: 3 calls within %s at %s", ch, d.Round(time.Millisecond), ts[i].Format("15:04:05.000")))
			}
		}
	}
	slices.Sort(out)
	return out
}

// slackRequest sends payload to a replica's /slack/interactions, signed
// as Slack signs it, and returns the HTTP status.
func slackRequest(t *testing.T, rep *replica, payload any) int {
	t.Helper()
	return slackRequestAt(t, rep, payload, time.Now())
}

// slackRequestAt is slackRequest signed as sent at sent: the same payload
// and time make the same signed request, as a replay does.
func slackRequestAt(t *testing.T, rep *replica, payload any, sent time.Time) int {
	t.Helper()
	b, _ := json.Marshal(payload)
	body := url.Values{"payload": {string(b)}}.Encode()
	stamp := strconv.FormatInt(sent.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(replicaSecret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req, _ := http.NewRequest(http.MethodPost, rep.url+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", rep.name, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var suppressButtonRE = regexp.MustCompile(`"action_id":"picket\.suppress","value":"([^"]+)"|"value":"([^"]+)","action_id":"picket\.suppress"`)

// runCmd runs the binary with the rig's environment.
func (r *replicaRig) runCmd(args ...string) (string, string, error) {
	cmd := exec.Command(picketBinary(r.t), args...)
	cmd.Env = append(r.env(), "PICKET_DATA_DIR="+filepath.Join(r.dataDir, "cli"))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestReplicasEndToEnd is issue 14's "done when": three replicas, 300
// findings, one replica SIGKILLed and another SIGTERMed mid-stream (both
// started again), updates of posted findings, a double submit on two
// replicas, a digest every minute.
func TestReplicasEndToEnd(t *testing.T) {
	stormPreflight(t)
	r := newReplicaRig(t, "picket-replicas")
	msgs, instances, highs, update := replicaEvents(t, replicaLows, replicaHighs)
	start := time.Now()
	t.Cleanup(func() {
		if os.Getenv("STORM_DEBUG") == "" {
			return
		}
		for _, m := range r.slack.snapshot() {
			t.Logf("%6.2fs %s %s %s %s %s", m.At.Sub(start).Seconds(), m.Method, m.Channel, m.TS, m.PostID, strings.Join(instanceRE.FindAllString(m.Content, -1), ","))
		}
		r.slack.mu.Lock()
		defer r.slack.mu.Unlock()
		for _, v := range r.slack.views {
			t.Logf("view: %v", v)
		}
		for _, e := range r.slack.ephemerals {
			t.Logf("ephemeral: %v", e)
		}
	})
	all := []*replica{r.startReplica("a"), r.startReplica("b"), r.startReplica("c")}

	// The replica killed is one that is delivering a channel (each
	// replica posts with its own token), and so is the one stopped.
	delivering := func(ch string, among []*replica) *replica {
		msgs := r.slack.snapshot()
		for i := len(msgs) - 1; i >= 0; i-- {
			for _, rep := range among {
				if msgs[i].Channel == channelID(ch) && msgs[i].Token == "xoxb-"+rep.name {
					return rep
				}
			}
		}
		return nil
	}
	third := len(msgs) / 3
	publishAll(t, r.emu, r.topic, msgs[:third])
	var killed, stopped *replica
	waitFor(t, "the first posts", 30*time.Second, func() bool {
		killed = delivering(incidentChannel, all)
		return len(r.slack.snapshot()) >= 10 && killed != nil
	})
	killed.stop(t, syscall.SIGKILL)
	publishAll(t, r.emu, r.topic, msgs[third:2*third])
	rest := slices.DeleteFunc(slices.Clone(all), func(rep *replica) bool { return rep == killed })
	waitFor(t, "more posts", 45*time.Second, func() bool {
		stopped = delivering(stormChannel, rest)
		return len(r.slack.snapshot()) >= 25 && stopped != nil
	})
	stopped.stop(t, syscall.SIGTERM)
	publishAll(t, r.emu, r.topic, msgs[2*third:])
	per, _ := r.shown()
	t.Logf("%s (delivering %s) killed, %s (delivering %s) stopped; %d of %d instances shown after %s", killed.name, incidentChannel,
		stopped.name, stormChannel, len(per), len(instances), time.Since(start).Round(time.Millisecond))
	rest = slices.DeleteFunc(rest, func(rep *replica) bool { return rep == stopped })
	a, b, c := rest[0], r.startReplica(killed.name+"2"), r.startReplica(stopped.name+"2")

	// Updates of High findings already posted: each lands on its alert.
	var updated []string
	waitFor(t, "High alerts to update", 60*time.Second, func() bool {
		updated = updated[:0]
		for _, inst := range highs {
			if _, ok := r.alertOf(inst); ok && len(updated) < replicaUpdates {
				updated = append(updated, inst)
			}
		}
		return len(updated) == replicaUpdates
	})
	var ups []string
	for _, inst := range updated {
		i := slices.Index(highs, inst)
		ups = append(ups, update(i))
	}
	publishAll(t, r.emu, r.topic, ups)

	inPlace := func(inst string) bool {
		alert, ok := r.alertOf(inst)
		if !ok {
			return false
		}
		for _, m := range r.slack.snapshot() {
			if m.Method == "chat.update" && m.Channel == alert.Channel && m.TS == alert.TS && strings.Contains(m.Content, "UPDATED") {
				return true
			}
		}
		return false
	}
	waitFor(t, "every instance shown, the updates in place, the queue drained", 90*time.Second, func() bool {
		per, _ := r.shown()
		if len(per) < len(instances) || !r.drained() {
			return false
		}
		for _, inst := range updated {
			if !inPlace(inst) {
				return false
			}
		}
		return true
	})
	delivered := time.Since(start)
	// checkStorm: every instance shown once, no post id twice, nothing
	// dead-lettered (its High and storm-channel counts are the storm's).
	per, _ = r.shown()
	posts := map[string]int{} // digests carry no post id
	for _, m := range r.slack.snapshot() {
		if m.Method == "chat.postMessage" && m.Channel != channelID(replicaDigestChannel) {
			posts[m.PostID]++
		}
	}
	for _, id := range instances {
		if per[id] != 1 {
			t.Errorf("instance %s shown in %d posts, want exactly 1", id, per[id])
		}
	}
	for id, n := range posts {
		if id == "" {
			t.Errorf("%d posts carry no post id in their metadata", n)
		} else if n > 1 {
			t.Errorf("post %s made %d times, want once", id, n)
		}
	}
	if n := r.dlq(); n != 0 {
		t.Errorf("dead-letter queue holds %d messages, want none", n)
	}
	highAlerts := 0
	for _, m := range r.slack.snapshot() {
		if m.Method == "chat.postMessage" && m.Channel == channelID(incidentChannel) && m.Thread == "" {
			highAlerts++
		}
	}
	if highAlerts != replicaHighs {
		t.Errorf("alerts in %s = %d, want one per High finding (%d)", incidentChannel, highAlerts, replicaHighs)
	}
	var delivery []stormMessage
	for _, m := range r.slack.snapshot() {
		if m.Channel != channelID(replicaDigestChannel) {
			delivery = append(delivery, m)
		}
	}
	for _, v := range paceViolations(delivery, replicaPace) {
		t.Errorf("pace %s exceeded: %s", replicaPace, v)
	}
	t.Logf("delivered after %s: %d accepted posts and updates", delivered.Round(time.Millisecond), len(delivery))

	// A double submit: the click reaches a, the dialog's submission b and
	// c at once; one runs it.
	clickOn := highs[len(highs)-1]
	alert, ok := r.alertOf(clickOn)
	if !ok {
		t.Fatalf("no alert for %s", clickOn)
	}
	mm := suppressButtonRE.FindStringSubmatch(alert.Content)
	if mm == nil {
		t.Fatalf("no Suppress button on the alert of %s: %.500s", clickOn, alert.Content)
	}
	key := mm[1] + mm[2]
	clicker := map[string]any{"id": replicaClicker, "username": "alice", "name": "alice"}
	team := map[string]any{"id": "T0TEAM"}
	click := map[string]any{
		"type": "block_actions", "trigger_id": "trig-replicas", "api_app_id": "A0PICKET", "user": clicker, "team": team,
		"channel":   map[string]any{"id": alert.Channel},
		"container": map[string]any{"type": "message", "channel_id": alert.Channel, "message_ts": alert.TS},
		"message":   map[string]any{"ts": alert.TS},
		"actions":   []any{map[string]any{"action_id": "picket.suppress", "block_id": "picket.actions", "value": key, "type": "button", "action_ts": "1700000002.1"}},
	}
	if code := slackRequest(t, a, click); code != http.StatusOK {
		t.Fatalf("click on %s: HTTP %d", a.name, code)
	}
	var meta, callback string
	waitFor(t, "the plan dialog", 30*time.Second, func() bool {
		r.slack.mu.Lock()
		defer r.slack.mu.Unlock()
		for _, v := range r.slack.views {
			view, _ := v["view"].(map[string]any)
			if md, _ := view["private_metadata"].(string); strings.Contains(md, `"request_id"`) {
				meta, _ = view["private_metadata"].(string)
				callback, _ = view["callback_id"].(string)
			}
		}
		return meta != ""
	})
	var req struct {
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal([]byte(meta), &req)
	// Two submissions of the dialog (a double click: two requests, each
	// with its own trigger), to two replicas at once.
	submit := func(trigger string) map[string]any {
		return map[string]any{
			"type": "view_submission", "api_app_id": "A0PICKET", "user": clicker, "team": team, "trigger_id": trigger,
			"view": map[string]any{"id": "V0PLAN", "callback_id": callback, "private_metadata": meta,
				"state": map[string]any{"values": map[string]any{
					"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": "replica e2e"}},
				}}},
		}
	}
	sent := time.Now()
	var wg sync.WaitGroup
	go1 := make(chan struct{})
	codes := make([]int, 2)
	for i, rep := range []*replica{b, c} {
		wg.Go(func() {
			<-go1
			codes[i] = slackRequestAt(t, rep, submit(fmt.Sprintf("trig-submit-%d", i)), sent)
		})
	}
	close(go1)
	wg.Wait()
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK {
		t.Fatalf("submissions: HTTP %v", codes)
	}
	// The first submission replayed byte for byte to the other replica is
	// refused there: the replay guard is shared.
	if code := slackRequestAt(t, c, submit("trig-submit-0"), sent); code != http.StatusUnauthorized {
		t.Errorf("a submission replayed to another replica: HTTP %d, want 401", code)
	}
	var answers []string
	waitFor(t, "both replicas' answers", 60*time.Second, func() bool {
		r.slack.mu.Lock()
		defer r.slack.mu.Unlock()
		answers = answers[:0]
		for _, e := range r.slack.ephemerals {
			if e.Get("user") == replicaClicker {
				answers = append(answers, e.Get("text"))
			}
		}
		return len(answers) >= 2
	})
	refused := 0
	for _, a := range answers {
		if strings.Contains(a, "already submitted") {
			refused++
		}
	}
	if refused != 1 || len(answers) != 2 {
		t.Errorf("answers to the clicker: %q; want one refusal (already submitted) and one result", answers)
	}

	// The digest: at least one slot during the test, each posted once.
	// At least one minute boundary with every replica up: on a slow run
	// the 75 s from the start can pass while replicas restart.
	digestBy := start.Add(75 * time.Second)
	if later := time.Now().Add(65 * time.Second); later.After(digestBy) {
		digestBy = later
	}
	waitFor(t, "a digest", time.Until(digestBy), func() bool {
		for _, m := range r.slack.snapshot() {
			if m.Channel == channelID(replicaDigestChannel) {
				return true
			}
		}
		return false
	})

	for _, rep := range []*replica{a, b, c} {
		rep.stop(t, syscall.SIGTERM)
	}
	slots := map[string]int{}
	for _, m := range r.slack.snapshot() {
		if m.Channel == channelID(replicaDigestChannel) && m.Method == "chat.postMessage" {
			slots[m.At.Truncate(time.Minute).Format("15:04")]++
		}
	}
	for slot, n := range slots {
		if n != 1 {
			t.Errorf("digest of the %s slot posted %d times, want once", slot, n)
		}
	}

	out, errOut, err := r.runCmd("audit", "export")
	if err != nil {
		t.Fatalf("audit export: %v: %s", err, errOut)
	}
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Event     string `json:"event"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.RequestID == req.RequestID {
			events[e.Event]++
		}
	}
	if req.RequestID == "" || events["requested"] != 1 || len(events) != 2 || events["duplicate"] != 0 {
		t.Errorf("audit entries of request %q: %v; want it requested once and one outcome", req.RequestID, events)
	}
	for ev, n := range events {
		if n != 1 {
			t.Errorf("audit entries of request %q: %s %d times, want once", req.RequestID, ev, n)
		}
	}
	out, errOut, err = r.runCmd("audit", "verify")
	if err != nil {
		t.Errorf("audit verify: %v\n%s%s", err, out, errOut)
	}
	t.Logf("audit verify: %s; request %s: %v; digest slots %v; %s in all", strings.TrimSpace(out), req.RequestID, events, slots, time.Since(start).Round(time.Millisecond))
}
