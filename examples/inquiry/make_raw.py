"""Build examples/inquiry/raw.csv: the training set as it arrives before cleaning.

It is train.csv plus the problems the CLOVA Studio cookbook cleans away: a wrong label, rows
whose intent cannot be told (판별불가), emoji and symbol noise, slang, personal data, look-alike
labels, an empty Completion, exact and near duplicates and a label conflict. Run from the repo
root: `python examples/inquiry/make_raw.py`.
"""
import random
from tunestudio.data import load_dataset, save_dataset
from tunestudio.types import Conversation, Turn

random.seed(7)
convs = load_dataset("examples/inquiry/train.csv").conversations
system = convs[0].system
def c(text, label): return Conversation(system, [Turn(text, label)])
messy = [
    c("네이버 드라이브 사용 금액 알려주세요.", "네이버플러스멤버십 오류 해결"),   # wrong label (cookbook)
    c("0 7 5 7 111 !!bjaowjd@@", "판별불가"),                              # cookbook's 판별불가
    c("ㅇㅇ", "판별불가"),
    c("밴드 계정 비번 까먹었어요 ㅠㅠㅠㅠㅠ 😭😭 010-1234-5678 로 연락주세요", "네이버밴드 계정"),
    c("멤버십 결재 취소하고 싶은데 어케 해야되나요??? 제 메일은 hong.gildong@example.com 입니다", "네이버플러스멤버십 결제"),
    c("마이박스 용량 추가 결제했는데 카드 4111-1111-1111-1111 로 두번 빠져나갔어요!!!!", "MYBOX 결제"),
    c("혜택구독서비스 결제가 계속 실패해요 ㅋㅋㅋㅋㅋㅋ 왜이럼", "네이버플러스멤버십 오류 해결"),
    c("모임어플 알림이 안와요 ★★★ 설정은 켜놨는데", "네이버밴드 오류 해결"),
    c("네이버 드라이브 휴지통에서 사진 복구 가능한가요?", ""),
]
# exact and near duplicates of training rows, one with a conflicting label
for conv in random.sample(convs, 6):
    t = conv.turns[0]
    messy.append(c(t.user, t.assistant))
    messy.append(c(t.user + " 😀", t.assistant))
t = convs[10].turns[0]
wrong = "MYBOX 계정" if t.assistant != "MYBOX 계정" else "네이버밴드 계정"
messy.append(c(t.user, wrong))
rows = convs + messy
random.shuffle(rows)
save_dataset(rows, "examples/inquiry/raw.csv")
print(len(rows))
