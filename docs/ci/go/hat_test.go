// Package hatcheck is a hard-hat client tested against the emulator that run.sh started:
// the server's url and credentials come from the ready file named by MOCK_READY_FILE.
// Standard library only.
package hatcheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

const hat = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"

// A 1x1 PNG: enough for the emulator to answer.
const image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

type server struct {
	URL    string `json:"url"`
	AK     string `json:"ak"`
	SK     string `json:"sk"`
	AppKey string `json:"appkey"`
}

func readyServer(t *testing.T) server {
	raw, err := os.ReadFile(os.Getenv("MOCK_READY_FILE"))
	if err != nil {
		t.Fatalf("read the ready file named by MOCK_READY_FILE: %v", err)
	}
	var s server
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("the ready file is not json: %v", err)
	}
	return s
}

func mac(key []byte, text string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return m.Sum(nil)
}

// sign sets the headers that sign a POST of body.
func sign(req *http.Request, body []byte, s server) {
	requestID := fmt.Sprintf("%d-0000-4000-8000-000000000000", time.Now().UnixNano())
	date := time.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102T150405Z") // Beijing time, literal Z
	hash := sha256.Sum256(body)
	toSign := fmt.Sprintf("appkey:%s\nctyun-eop-request-id:%s\neop-date:%s\n\n\n%s", s.AppKey, requestID, date, hex.EncodeToString(hash[:]))
	kdate := mac(mac(mac([]byte(s.SK), date), s.AK), date[:8])
	signature := base64.StdEncoding.EncodeToString(mac(kdate, toSign))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ctyun-eop-request-id", requestID)
	req.Header.Set("eop-date", date)
	req.Header.Set("appkey", s.AppKey)
	req.Header.Set("Eop-Authorization", fmt.Sprintf("%s Headers=appkey;ctyun-eop-request-id;eop-date Signature=%s", s.AK, signature))
}

type answer struct {
	Code    json.RawMessage   `json:"code"`
	Message string            `json:"message"`
	Result  []json.RawMessage `json:"result"`
}

func detect(t *testing.T, s server) (*http.Response, answer) {
	body, _ := json.Marshal(map[string]string{"image": image})
	req, err := http.NewRequest("POST", s.URL+hat, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sign(req, body, s)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("call hard-hat: %v", err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("the answer is not json: %v", err)
	}
	return resp, a
}

func TestASignedCallIsAnswered(t *testing.T) {
	resp, a := detect(t, readyServer(t))
	if resp.StatusCode != 200 || string(a.Code) != "0" || a.Message != "success" {
		t.Fatalf("got %d %s %q, want 200 0 success", resp.StatusCode, a.Code, a.Message)
	}
}

func TestAWrongSecretIsRefusedAndTheEmulatorSaysWhy(t *testing.T) {
	s := readyServer(t)
	s.SK = "not-the-secret"
	resp, a := detect(t, s)
	if resp.StatusCode != 401 || string(a.Code) != `"10020"` {
		t.Fatalf("got %d %s, want 401 \"10020\"", resp.StatusCode, a.Code)
	}
	if reason := resp.Header.Get("x-mock-reason"); !strings.Contains(reason, "signature") {
		t.Fatalf("x-mock-reason %q does not name the signature", reason)
	}
}
